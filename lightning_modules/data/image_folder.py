"""Your own images in torchvision's ``ImageFolder`` layout, held in memory as uint8 tensors."""

from __future__ import annotations

from pathlib import Path

import torch
from typing_extensions import override

from lightning_modules.data.augment import BatchAugment
from lightning_modules.data.files import DatasetError
from lightning_modules.data.image_cache import folder_samples, load_or_decode
from lightning_modules.data.in_memory import InMemoryImageDataModule, Splits
from lightning_modules.data.layout import TEST_DIR, TRAIN_DIR, class_folders, class_folders_of


def _split(targets: torch.Tensor, size: float, seed: int, what: str):
    """Class-stratified (kept, held-out) indices; ``size`` is a share (< 1) or a count."""
    from sklearn.model_selection import train_test_split

    size = int(size) if size >= 1 else float(size)
    try:
        return train_test_split(
            torch.arange(len(targets)).numpy(),
            test_size=size,
            stratify=targets.numpy(),
            random_state=seed,
        )
    except ValueError as err:
        raise DatasetError(
            f"{what}={size} cannot hold out a share of every class from {len(targets)} images "
            f"({err}); add images or change {what}"
        ) from err


class ImageFolderDataModule(InMemoryImageDataModule):
    """Train/val/test splits of ``<root>/train/<class>/*`` (and ``<root>/test/<class>/*``).

    Every image is decoded once to ``channels`` (1: grey, 3: RGB) and ``image_size`` pixels a
    side (aspect ratio kept, padded with black) and cached under ``cache_dir``; from then on
    the data is handled like Fashion-MNIST, by
    :class:`~lightning_modules.data.in_memory.InMemoryImageDataModule`. A file that cannot be
    decoded stops the run with its name, so the cache never holds a partial data set.

    Args:
        root: the folder holding ``train/`` and, optionally, ``test/``.
        image_size: side of the square images the model sees.
        channels: 1 or 3.
        test_size: without ``test/``, the class-stratified share (< 1) or count held out.
        val_size: the class-stratified share (< 1) or count of the training images for validation.
        num_classes: when given, must equal the number of class folders.
        cache_dir: where decoded arrays are kept (``None``: decode every time).
        batch_size, eval_batch_size, normalize, mean, std, seed, on_device, augment,
            steps_per_execution: as for
            :class:`~lightning_modules.data.in_memory.InMemoryImageDataModule`.
    """

    def __init__(
        self,
        root: str,
        image_size: int = 28,
        channels: int = 1,
        batch_size: int = 128,
        eval_batch_size: int | None = None,
        val_size: float = 0.1,
        test_size: float = 0.2,
        num_classes: int | None = None,
        normalize: bool = True,
        mean: float = 0.5,
        std: float = 0.5,
        seed: int = 0,
        cache_dir: str | None = None,
        on_device: bool = True,
        augment: BatchAugment | None = None,
        steps_per_execution: int = 1,
    ) -> None:
        class_names = class_folders(root)
        if num_classes is not None and num_classes != len(class_names):
            raise DatasetError(
                f"data.num_classes={num_classes} but {root}/{TRAIN_DIR} has "
                f"{len(class_names)} class folders {class_names}"
            )
        super().__init__(
            class_names=class_names,
            batch_size=batch_size,
            eval_batch_size=eval_batch_size,
            normalize=normalize,
            mean=mean,
            std=std,
            seed=seed,
            on_device=on_device,
            augment=augment,
            steps_per_execution=steps_per_execution,
        )
        self.root = Path(root)
        self.image_size = image_size
        self.channels = channels
        self.val_size = val_size
        self.test_size = test_size
        self.cache_dir = cache_dir

    def _decoded(self) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        parts = {TRAIN_DIR: folder_samples(self.root / TRAIN_DIR, self.class_names)}
        test = self.root / TEST_DIR
        if test.is_dir():
            test_names = class_folders_of(test)
            if test_names != self.class_names:
                raise DatasetError(
                    f"{test} has the class folders {test_names}, {self.root / TRAIN_DIR} has "
                    f"{self.class_names}; give both the same"
                )
            parts[TEST_DIR] = folder_samples(test, self.class_names)
        return load_or_decode(parts, self.root, self.image_size, self.channels, self.cache_dir)

    @override
    def prepare_data(self) -> None:
        if self.cache_dir and not self.splits:
            self._decoded()  # decodes and caches once, before the ranks of a DDP run read

    @override
    def read_splits(self) -> Splits:
        decoded = self._decoded()
        images, targets = decoded[TRAIN_DIR]
        if TEST_DIR in decoded:
            test = decoded[TEST_DIR]
        else:
            kept, held = _split(targets, self.test_size, self.seed, "data.test_size")
            test = (images[held], targets[held])
            images, targets = images[kept], targets[kept]
        kept, held = _split(targets, self.val_size, self.seed, "data.val_size")
        return {
            "train": (images[kept], targets[kept]),
            "val": (images[held], targets[held]),
            "test": test,
        }
