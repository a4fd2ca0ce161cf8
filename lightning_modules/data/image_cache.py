"""Decode a torchvision ``ImageFolder`` layout once into uint8 arrays, cached on disk.

The cache file is named by a hash of every file's path, size and modification time and of the
decoding settings, so any added, removed or changed file, or another size or channel count,
decodes again; an unchanged folder is read back in a fraction of the time.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import time
from pathlib import Path

import numpy as np
import torch

from lightning_modules.data.files import DatasetError
from lightning_modules.data.images import fit_image
from storage.run_files import atomic_write_bytes

log = logging.getLogger(__name__)

CACHE_VERSION = 2  # bump when the decoding changes
PROGRESS_MIN_FILES = 500  # fewer decode in a moment: no progress bar


def folder_samples(folder: Path, class_names: list[str]) -> list[tuple[str, int]]:
    """``(path, class index)`` of each image under ``folder/<class>/``, via torchvision."""
    from torchvision.datasets.folder import IMG_EXTENSIONS, make_dataset

    class_to_idx = {name: i for i, name in enumerate(class_names)}
    try:
        return make_dataset(str(folder), class_to_idx, extensions=IMG_EXTENSIONS)
    except FileNotFoundError as err:  # a class folder without any image file
        raise DatasetError(
            f"{folder}: {err} Put images into every class folder or remove the empty ones."
        ) from err


def cache_key(samples: list[tuple[str, int]], root: Path, image_size: int, channels: int) -> str:
    entries = []
    for path, target in samples:
        stat = os.stat(path)
        entries.append([os.path.relpath(path, root), target, stat.st_size, stat.st_mtime_ns])
    payload = json.dumps([CACHE_VERSION, image_size, channels, entries])
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


def decode(samples: list[tuple[str, int]], image_size: int, channels: int, what: str):
    """uint8 images ``[N, C, H, W]`` and targets; a file that cannot be decoded is an error."""
    from PIL import Image
    from rich.progress import track

    images = np.empty((len(samples), channels, image_size, image_size), dtype=np.uint8)
    steps = track(
        enumerate(samples),
        total=len(samples),
        description=f"Decoding {what}",
        disable=len(samples) < PROGRESS_MIN_FILES,
    )
    for i, (path, _) in steps:
        try:
            with Image.open(path) as image:
                images[i] = fit_image(image, image_size, channels).numpy()
        except (OSError, ValueError, Image.DecompressionBombError) as err:
            raise DatasetError(
                f"{path}: not a readable image ({type(err).__name__}: {err}); delete or "
                "replace the file and run again"
            ) from err
    targets = np.array([target for _, target in samples], dtype=np.int64)
    return images, targets


def load_or_decode(
    parts: dict[str, list[tuple[str, int]]],
    root: Path,
    image_size: int,
    channels: int,
    cache_dir: Path | None,
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """``{part: (images, targets)}`` for each part (``train``, ``test``) of the folder,
    from the cache when it holds them, else decoded and (with a ``cache_dir``) cached."""
    every = [sample for samples in parts.values() for sample in samples]
    key = cache_key(every, root, image_size, channels) + "-" + "-".join(parts)
    path = Path(cache_dir) / f"{key}.npz" if cache_dir else None
    started = time.perf_counter()
    if path is not None and path.is_file():
        with np.load(path, allow_pickle=False) as arrays:
            result = {
                part: (
                    torch.from_numpy(arrays[f"{part}_images"]),
                    torch.from_numpy(arrays[f"{part}_targets"]),
                )
                for part in parts
            }
        log.info(
            "Read %d images from the cache %s in %.2f s",
            len(every),
            path,
            time.perf_counter() - started,
        )
        return result
    decoded = {
        part: decode(samples, image_size, channels, f"{root.name}/{part}")
        for part, samples in parts.items()
    }
    log.info("Decoded %d images of %s in %.2f s", len(every), root, time.perf_counter() - started)
    if path is not None:
        buffer = io.BytesIO()
        arrays = {
            f"{part}_{kind}": value
            for part, pair in decoded.items()
            for kind, value in zip(("images", "targets"), pair, strict=True)
        }
        np.savez(buffer, **arrays)
        atomic_write_bytes(path, buffer.getvalue())
        log.info("Cached them in %s", path)
    return {part: (torch.from_numpy(x), torch.from_numpy(y)) for part, (x, y) in decoded.items()}
