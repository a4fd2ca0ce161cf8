"""Feature vectors, metadata and thumbnails for TensorBoard's embedding projector.

The taps of one step share their images, so they share one metadata table and one sprite;
each tap's features are one TSV. ``projector_config.pbtxt`` lists every step's entries.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from storage.run_files import atomic_write_bytes, save_png

# The projector reads sprites of at most 8192x8192 pixels.
MAX_SPRITE_PIXELS = 8192
CONFIG_FILE = "projector_config.pbtxt"  # the name TensorBoard's projector plugin looks for


def sprite_thumbnails(
    images: torch.Tensor, max_sprite_pixels: int = MAX_SPRITE_PIXELS
) -> torch.Tensor:
    """uint8 ``[N, C, H, W]`` -> floats in [0, 1], shrunk so that the square sprite fits the limit.

    The sprite lays N thumbnails out on a ``ceil(sqrt(N))``-wide square grid.
    """
    per_row = math.ceil(math.sqrt(len(images)))
    side = max(images.shape[-2:])
    fitting = max_sprite_pixels // per_row
    if fitting < 1:
        raise ValueError(
            f"{len(images)} thumbnails cannot fit a {max_sprite_pixels}px sprite; "
            "lower callbacks.feature_embeddings.num_images"
        )
    thumbnails = images.float().div(255.0)
    if fitting < side:
        thumbnails = F.interpolate(thumbnails, size=(fitting, fitting), mode="area")
    return thumbnails


def sprite_pixels(thumbnails: torch.Tensor) -> np.ndarray:
    """``[N, C, h, w]`` floats in [0, 1] laid out row by row on a square grid: uint8 ``[S, S]``
    for one channel, ``[S, S, 3]`` for three."""
    from torchvision.utils import make_grid

    per_row = math.ceil(math.sqrt(len(thumbnails)))
    grid = make_grid(thumbnails, nrow=per_row, padding=0)  # [3, rows * h, per_row * w]
    side = grid.shape[-1]
    square = torch.zeros(grid.shape[0], side, side)
    square[:, : grid.shape[1]] = grid
    pixels = square.mul(255).round_().to(torch.uint8).permute(1, 2, 0).numpy()
    return pixels[..., 0] if thumbnails.shape[1] == 1 else pixels


def write_projector(
    log_dir: str | os.PathLike,
    step: int,
    features: Mapping[str, np.ndarray],
    metadata: Mapping[str, list],
    thumbnails: torch.Tensor | None,
) -> None:
    """One projector entry ``<tap>:<step>`` per ``features`` item (``[N, D]``), with one
    metadata column per ``metadata`` key and the ``thumbnails`` as sprite.

    Features are written with 9 significant digits, which restore float32 values exactly.
    Entries of other steps in ``log_dir`` stay; those of this step are replaced.
    """
    from google.protobuf import text_format
    from tensorboard.plugins.projector import EmbeddingInfo, ProjectorConfig

    log_dir = Path(log_dir)
    folder = f"{step:05d}"
    rows = ["\t".join(map(str, values)) for values in zip(*metadata.values(), strict=True)]
    table = "\n".join(["\t".join(metadata), *rows]) + "\n"
    atomic_write_bytes(log_dir / folder / "metadata.tsv", table.encode())
    if thumbnails is not None:
        save_png(sprite_pixels(thumbnails), log_dir / folder / "sprite.png")

    entries = []
    for tap, values in features.items():
        buffer = io.BytesIO()
        np.savetxt(buffer, values, fmt="%.9g", delimiter="\t")
        atomic_write_bytes(log_dir / folder / f"{tap}.tsv", buffer.getvalue())
        entry = EmbeddingInfo(
            tensor_name=f"{tap}:{folder}",
            tensor_path=f"{folder}/{tap}.tsv",
            metadata_path=f"{folder}/metadata.tsv",
        )
        if thumbnails is not None:
            entry.sprite.image_path = f"{folder}/sprite.png"
            entry.sprite.single_image_dim.extend([thumbnails.shape[-1], thumbnails.shape[-2]])
        entries.append(entry)

    config = ProjectorConfig()
    config_path = log_dir / CONFIG_FILE
    if config_path.exists():
        text_format.Parse(config_path.read_text(), config)
    names = {entry.tensor_name for entry in entries}
    kept = [entry for entry in config.embeddings if entry.tensor_name not in names]
    del config.embeddings[:]
    config.embeddings.extend([*kept, *entries])
    atomic_write_bytes(config_path, text_format.MessageToString(config).encode())
