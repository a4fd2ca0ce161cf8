"""The base of the data modules that hold every split in memory as uint8 tensors."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader
from typing_extensions import override

from lightning_modules.data.augment import BatchAugment, batch_seed
from lightning_modules.data.batches import batch_loader
from lightning_modules.data.images import scale

Splits = dict[str, tuple[torch.Tensor, torch.Tensor]]


class InMemoryImageDataModule(L.LightningDataModule, ABC):
    """Train/val/test splits as (uint8 images ``[N, C, H, W]``, int64 targets), in memory.

    A subclass only reads its splits (:meth:`read_splits`); this class keeps them, serves their
    batches and turns them into what the model sees. Images stay uint8 until a batch reaches
    its device, where they become floats in [0, 1] and, if ``normalize``, are standardised with
    ``mean``/``std``. With ``on_device`` and an accelerator, the splits are moved there once,
    so batches are sliced on the device and never copied from the host.

    ``augment`` (``data.augment``), if given, changes the training batches on their device,
    before they become floats; validation, test and the splits themselves stay as they are.

    Args:
        class_names: the name of each class, by target.
        batch_size: images per training batch.
        eval_batch_size: images per validation or test batch; ``None``: at least 1000.
        normalize: standardise the inputs with ``mean`` and ``std``.
        mean: subtracted from the pixels in [0, 1].
        std: what they are divided by then.
        seed: seeds the shuffling of every epoch and the augmentation of every batch.
        on_device: keep the splits on the accelerator, when there is one.
        augment: the training-batch augmentation, or ``None``.
        steps_per_execution: training batches handed over at a time, as a list (see
            ``ConfiguredModule``); validation and test batches come one at a time.
    """

    def __init__(
        self,
        class_names: list[str],
        batch_size: int = 128,
        eval_batch_size: int | None = None,
        normalize: bool = True,
        mean: float = 0.5,
        std: float = 0.5,
        seed: int = 0,
        on_device: bool = True,
        augment: BatchAugment | None = None,
        steps_per_execution: int = 1,
    ) -> None:
        super().__init__()
        self.class_names = class_names
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size or max(batch_size, 1000)
        self.normalize = normalize
        self.mean = mean
        self.std = std
        self.seed = seed
        self.on_device = on_device
        self.augment = augment
        self.steps_per_execution = steps_per_execution
        self.splits: Splits = {}

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @abstractmethod
    def read_splits(self) -> Splits:
        """``{"train": ..., "val": ..., "test": ...}``, each (uint8 images, targets) on the CPU."""

    @override
    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return  # read once: fit, then test, reuse the same tensors
        splits = self.read_splits()
        device = self.trainer.strategy.root_device if self.trainer else torch.device("cpu")
        if self.on_device and device.type != "cpu":
            splits = {k: (x.to(device), y.to(device)) for k, (x, y) in splits.items()}
        self.splits = splits

    def _loader(self, split: str, shuffle: bool, batch_size: int, steps: int = 1) -> DataLoader:
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
            steps=steps,
        )

    @override
    def train_dataloader(self) -> DataLoader:
        # Overfitting (trainer.overfit_batches) trains on the same first batches every epoch.
        overfit = bool(self.trainer and self.trainer.overfit_batches)
        return self._loader("train", not overfit, self.batch_size, steps=self.steps_per_execution)

    @override
    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False, batch_size=self.eval_batch_size)

    @override
    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False, batch_size=self.eval_batch_size)

    def to_model_input(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 images -> the float tensors models see."""
        return scale(images, self.normalize, self.mean, self.std)

    @override
    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        if isinstance(batch, torch.Tensor):  # an example input (model summary), already float
            return batch
        training = self.trainer is not None and self.trainer.training
        grouped = training and self.steps_per_execution > 1  # a list of batches
        batches = batch if grouped else [batch]
        augmenting = training and self.augment is not None
        # Each batch's place in the epoch seeds its augmentation, however many come at a time.
        first = self._item_index() * self.steps_per_execution if augmenting else 0
        moved = [self._model_input(b, augmenting, first + i) for i, b in enumerate(batches)]
        return moved if grouped else moved[0]

    def _model_input(self, batch: Any, augment: bool, index: int) -> Any:
        """One (uint8 images, targets) batch as the model sees it, augmented as the training
        epoch's ``index``-th batch when ``augment``."""
        images, targets = batch
        if augment:
            trainer = self.trainer
            seed = batch_seed(self.seed, trainer.current_epoch, index, trainer.global_rank)
            images = self.augment(images, seed)
        return self.to_model_input(images), targets

    def _item_index(self) -> int:
        """The index in the epoch of the training item being moved: Lightning counts it as
        ready only after this hook, and restores the count with the loops' state on resume."""
        return self.trainer.fit_loop.epoch_loop.batch_progress.current.ready
