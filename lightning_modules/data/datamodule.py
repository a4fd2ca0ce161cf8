"""An MNIST-style dataset (Fashion-MNIST, MNIST, KMNIST) held in memory as uint8 tensors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader
from typing_extensions import override

from lightning_modules.data.augment import BatchAugment, batch_seed
from lightning_modules.data.batches import batch_loader
from lightning_modules.data.files import DatasetError, ensure_idx_files


class IDXImageDataModule(L.LightningDataModule):
    """Train/val/test splits of a torchvision MNIST-style dataset, as tensors in memory.

    Images stay uint8 until a batch reaches its device, where they become floats in
    [0, 1] and, if ``normalize``, are standardised with ``mean``/``std``. The validation
    split is carved from the training set with a seeded permutation; the official test
    set is the test split.

    With ``on_device`` (default) and an accelerator, the uint8 splits are moved to the
    accelerator once, so batches are sliced there and never copied from the host.

    ``augment`` (``data.augment``), if given, changes the training batches on their device,
    before they become floats; validation, test and the splits themselves stay as they are.
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
    ) -> None:
        super().__init__()
        self.dataset_class = dataset_class
        self.data_dir = data_dir
        self.system_dirs = list(system_dirs)
        self.download = download
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size or max(batch_size, 1000)
        self.val_size = val_size
        self.normalize = normalize
        self.mean = mean
        self.std = std
        self.seed = seed
        self.on_device = on_device
        self.augment = augment
        self.class_names: list[str] = list(dataset_class.classes)
        self.splits: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @override
    def prepare_data(self) -> None:
        ensure_idx_files(self.dataset_class, self.data_dir, self.system_dirs, self.download)

    @override
    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
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
        self.splits = {
            "train": (train[0][train_idx], train[1][train_idx]),
            "val": (train[0][val_idx], train[1][val_idx]),
            "test": test,
        }
        device = self.trainer.strategy.root_device if self.trainer else torch.device("cpu")
        if self.on_device and device.type != "cpu":
            self.splits = {k: (x.to(device), y.to(device)) for k, (x, y) in self.splits.items()}

    def _read(self, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
        try:
            ds = self.dataset_class(self.data_dir, train=train, download=False)
        except (RuntimeError, ValueError) as err:
            raise DatasetError(
                f"Could not read {self.dataset_class.__name__} from {self.data_dir}: {err}. "
                f"Delete {self.data_dir}/{self.dataset_class.__name__} and run again."
            ) from err
        return ds.data.unsqueeze(1).contiguous(), ds.targets.long()

    def _loader(self, split: str, shuffle: bool, batch_size: int) -> DataLoader:
        images, targets = self.splits[split]
        trainer = self.trainer
        rank, world = (trainer.global_rank, trainer.world_size) if trainer else (0, 1)
        return batch_loader(
            images,
            targets,
            batch_size=batch_size,
            shuffle=shuffle,
            seed=self.seed,
            rank=rank,
            world_size=world,
        )

    @override
    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True, batch_size=self.batch_size)

    @override
    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False, batch_size=self.eval_batch_size)

    @override
    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False, batch_size=self.eval_batch_size)

    def to_model_input(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 images -> the float tensors models see."""
        x = images.float().div_(255.0)
        if self.normalize:
            x = x.sub_(self.mean).div_(self.std)
        return x

    @override
    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        if isinstance(batch, torch.Tensor):  # an example input (model summary), already float
            return batch
        images, targets = batch
        if self.augment is not None and self.trainer is not None and self.trainer.training:
            images = self.augment(images, self._train_batch_seed())
        return self.to_model_input(images), targets

    def _train_batch_seed(self) -> int:
        trainer = self.trainer
        # The index of the batch being moved: Lightning counts it as ready only after this hook,
        # and restores the count with the loops' state on resume.
        batch = trainer.fit_loop.epoch_loop.batch_progress.current.ready
        return batch_seed(self.seed, trainer.current_epoch, batch, trainer.global_rank)
