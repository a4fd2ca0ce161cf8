"""An MNIST-style dataset (Fashion-MNIST, MNIST, KMNIST) held in memory as uint8 tensors."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from typing_extensions import override

from lightning_modules.data.augment import BatchAugment
from lightning_modules.data.files import DatasetError, ensure_idx_files
from lightning_modules.data.in_memory import InMemoryImageDataModule, Splits


class IDXImageDataModule(InMemoryImageDataModule):
    """Train/val/test splits of a torchvision MNIST-style dataset, as tensors in memory.

    The validation split is carved from the training set with a seeded permutation; the
    official test set is the test split. Batches, inputs and augmentation are those of
    :class:`~lightning_modules.data.in_memory.InMemoryImageDataModule`.

    Args:
        dataset_class: the torchvision dataset whose IDX files and reader are used.
        data_dir: where its files are (or go).
        system_dirs: verified copies to extract from before trying a download.
        download: whether torchvision may download missing files.
        val_size: training images held out for validation.
        batch_size, eval_batch_size, normalize, mean, std, seed, on_device, augment,
            steps_per_execution: as for
            :class:`~lightning_modules.data.in_memory.InMemoryImageDataModule`.
    """

    def __init__(
        self,
        dataset_class: type,
        data_dir: str,
        system_dirs: Sequence[str] = (),
        download: bool = True,
        batch_size: int = 128,
        eval_batch_size: int | None = None,
        val_size: int = 5000,
        normalize: bool = True,
        mean: float = 0.5,
        std: float = 0.5,
        seed: int = 0,
        on_device: bool = True,
        augment: BatchAugment | None = None,
        steps_per_execution: int = 1,
    ) -> None:
        super().__init__(
            class_names=list(dataset_class.classes),
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
        self.dataset_class = dataset_class
        self.data_dir = data_dir
        self.system_dirs = list(system_dirs)
        self.download = download
        self.val_size = val_size

    @override
    def prepare_data(self) -> None:
        ensure_idx_files(self.dataset_class, self.data_dir, self.system_dirs, self.download)

    @override
    def read_splits(self) -> Splits:
        ensure_idx_files(self.dataset_class, self.data_dir, self.system_dirs, self.download)
        train = self._read(train=True)
        test = self._read(train=False)
        n_train = len(train[1])
        if not 1 <= self.val_size < n_train:
            raise ValueError(
                f"data.val_size={self.val_size} must be in [1, {n_train}): the training set has "
                f"{n_train} images, and both training and validation need some."
            )
        order = torch.randperm(n_train, generator=torch.Generator().manual_seed(self.seed))
        val_idx, train_idx = order[: self.val_size], order[self.val_size :]
        return {
            "train": (train[0][train_idx], train[1][train_idx]),
            "val": (train[0][val_idx], train[1][val_idx]),
            "test": test,
        }

    def _read(self, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
        try:
            ds = self.dataset_class(self.data_dir, train=train, download=False)
        except (RuntimeError, ValueError) as err:
            raise DatasetError(
                f"Could not read {self.dataset_class.__name__} from {self.data_dir}: {err}. "
                f"Delete {self.data_dir}/{self.dataset_class.__name__} and run again."
            ) from err
        return ds.data.unsqueeze(1).contiguous(), ds.targets.long()
