"""Whole-batch sampling over in-memory tensors: one index tensor per batch, no per-sample work.

With ``steps`` > 1 each item the loader hands over is a list of that many batches, trained on
one after the other in a single ``training_step`` (``steps_per_execution``).
"""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, Dataset, Sampler, SequentialSampler


class TensorBatches(Dataset):
    """Indexed by a tensor of indices, returns the whole batch by slicing."""

    def __init__(self, images: torch.Tensor, targets: torch.Tensor) -> None:
        if len(images) != len(targets):
            raise ValueError(f"{len(images)} images but {len(targets)} targets")
        self.images = images
        self.targets = targets

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: torch.Tensor | list[torch.Tensor]):
        """The batch of ``index``, or a list of batches for a list of index tensors."""
        if isinstance(index, list):
            return [self[part] for part in index]
        index = index.to(self.images.device, non_blocking=True)  # no-op on the CPU
        return self.images[index], self.targets[index]


class BatchIndices(Sampler[torch.Tensor]):
    """Yields index tensors of ``batch_size``; shuffled with ``seed + epoch`` when asked.

    With ``steps`` > 1 it yields lists of ``steps`` index tensors instead (the last list may be
    shorter): the same batches in the same order, handed over ``steps`` at a time.

    Seeding each epoch separately makes the order of epoch k independent of how the run
    got there, so a run resumed at an epoch boundary sees the same batches. Under
    distributed training each rank takes its own strided share of every epoch.
    """

    def __init__(
        self,
        num_samples: int,
        batch_size: int,
        shuffle: bool,
        seed: int = 0,
        drop_last: bool = False,
        rank: int = 0,
        world_size: int = 1,
        steps: int = 1,
    ) -> None:
        self.num_samples = num_samples
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.drop_last = drop_last
        self.rank = rank
        self.world_size = world_size
        self.steps = steps
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _indices(self) -> torch.Tensor:
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed + self.epoch)
            order = torch.randperm(self.num_samples, generator=generator)
        else:
            order = torch.arange(self.num_samples)
        if self.world_size > 1:
            per_rank = self.num_samples // self.world_size  # equal shares keep ranks in step
            order = order[self.rank : per_rank * self.world_size : self.world_size]
        return order

    def __iter__(self):
        # A generator, so the order is drawn at the first batch: Lightning creates the
        # iterator before it calls set_epoch() when it resumes from a checkpoint.
        batches = self._indices().split(self.batch_size)
        if self.drop_last and len(batches) and len(batches[-1]) < self.batch_size:
            batches = batches[:-1]
        if self.steps == 1:
            yield from batches
        else:
            for start in range(0, len(batches), self.steps):
                yield list(batches[start : start + self.steps])

    @property
    def num_batches(self) -> int:
        """Batches per epoch, counted one by one whatever ``steps`` is."""
        n = self.num_samples // self.world_size
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __len__(self) -> int:
        return -(-self.num_batches // self.steps)


class InOrderBatchIndices(BatchIndices, SequentialSampler):
    """:class:`BatchIndices` that do not shuffle, and say so to Lightning by their type.

    With ``trainer.overfit_batches`` Lightning replaces the sampler of each loader that is
    not a ``SequentialSampler`` with one that yields single indices, which these loaders
    cannot take.
    """


def batch_loader(images: torch.Tensor, targets: torch.Tensor, **sampler_options) -> DataLoader:
    """A DataLoader of whole batches; ``sampler_options`` are :class:`BatchIndices`' arguments."""
    in_order = not sampler_options.get("shuffle")
    sampler = (InOrderBatchIndices if in_order else BatchIndices)(len(targets), **sampler_options)
    # batch_size=None: the sampler already yields whole batches, the DataLoader only iterates.
    # Its own generator: creating an iterator draws a seed, which must not move the global RNG
    # (a resumed run creates its first iterator at another point than an uninterrupted one).
    return DataLoader(
        TensorBatches(images, targets),
        sampler=sampler,
        batch_size=None,
        generator=torch.Generator().manual_seed(sampler.seed),
    )
