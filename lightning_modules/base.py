"""What every LightningModule here shares: optimizer and scheduler built from config partials."""

from __future__ import annotations

from collections.abc import Callable

import lightning as L
import torch

OptimizerFactory = Callable[..., torch.optim.Optimizer]
SchedulerFactory = Callable[..., torch.optim.lr_scheduler.LRScheduler]

# Metric names are "<stage>/<metric>", e.g. "val/loss".
STAGES = ("train", "val", "test")


class ConfiguredModule(L.LightningModule):
    """Takes ``optimizer`` and ``scheduler`` as partials (Hydra ``_partial_: true``).

    ``monitor``/``monitor_mode`` name the metric that checkpoints and sweeps rank runs by;
    each module also logs ``<monitor>_best``, the best value seen so far.
    """

    monitor: str
    monitor_mode: str

    def __init__(self, optimizer: OptimizerFactory, scheduler: SchedulerFactory | None = None):
        super().__init__()
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler

    def configure_optimizers(self):
        optimizer = self.optimizer_factory(params=self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        scheduler = self.scheduler_factory(optimizer=optimizer)
        lr_scheduler = {"scheduler": scheduler, "interval": "epoch"}
        return {"optimizer": optimizer, "lr_scheduler": lr_scheduler}

    def _step(self, batch, stage: str) -> torch.Tensor:
        """Loss of ``batch``; logs the stage's metrics as ``<stage>/<name>``."""
        raise NotImplementedError

    def training_step(self, batch, batch_idx):
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx):
        self._step(batch, "val")

    def test_step(self, batch, batch_idx):
        self._step(batch, "test")
