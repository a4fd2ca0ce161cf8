"""A tiny MNIST-style dataset written as real IDX files, read by torchvision's reader."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from torchvision.datasets import FashionMNIST


class TinyFashionMNIST(FashionMNIST):
    """Fashion-MNIST's classes and reader, but files written by :func:`write_idx_dataset`."""


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write ``array`` (uint8) in the IDX format: magic, dims, then the raw bytes."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape
    )
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def make_images(labels: np.ndarray, rng: np.random.Generator, merge: tuple[int, int] | None = None):
    """One bright 7x7 block per class at its own place, plus noise: learnable in a few steps.

    With ``merge=(a, b)`` class b is drawn exactly like class a, so they cannot be told apart.
    """
    images = rng.integers(0, 60, size=(len(labels), 28, 28), dtype=np.uint8)
    for i, label in enumerate(labels):
        pattern = merge[0] if merge and label == merge[1] else label
        row, col = divmod(int(pattern), 4)
        images[i, 7 * row : 7 * row + 7, 7 * col : 7 * col + 7] = 200
    return images


def write_idx_dataset(
    root: Path,
    n_train: int = 600,
    n_test: int = 200,
    seed: int = 0,
    merge: tuple[int, int] | None = None,
    cls: type = TinyFashionMNIST,
) -> Path:
    rng = np.random.default_rng(seed)
    raw = Path(root) / cls.__name__ / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = np.arange(n) % 10
        rng.shuffle(labels)
        write_idx(raw / f"{prefix}-images-idx3-ubyte", make_images(labels, rng, merge))
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels.astype(np.uint8))
    return Path(root)


def write_image_folder(
    root: Path,
    class_names: tuple[str, ...] = ("boot", "coat", "shirt"),
    per_class: int = 40,
    test_per_class: int = 0,
    seed: int = 0,
) -> Path:
    """PNGs of :func:`make_images` in torchvision's ImageFolder layout, ``root/train/<class>/``
    (and ``root/test/<class>/`` with ``test_per_class``)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for part, n in (("train", per_class), ("test", test_per_class)):
        for label, name in enumerate(class_names):
            folder = Path(root) / part / name
            if n:
                folder.mkdir(parents=True, exist_ok=True)
            for i, image in enumerate(make_images(np.full(n, label), rng)):
                Image.fromarray(image).save(folder / f"{i:04d}.png")
    return Path(root)
