"""What every LightningModule here shares: optimizer and scheduler built from config partials,
and per-stage metrics logged as ``<stage>/<name>``."""

from __future__ import annotations

from collections.abc import Callable

import lightning as L
import torch
from torch import nn

OptimizerFactory = Callable[..., torch.optim.Optimizer]
SchedulerFactory = Callable[..., torch.optim.lr_scheduler.LRScheduler]

# Metric names are "<stage>/<metric>", e.g. "val/loss".
STAGES = ("train", "val", "test")


class ConfiguredModule(L.LightningModule):
    """Takes ``optimizer`` and ``scheduler`` as partials (Hydra ``_partial_: true``).

    ``monitor``/``monitor_mode`` name the metric that checkpoints and sweeps rank runs by;
    each module also logs ``<monitor>_best``, the best value seen so far.

    Subclasses put their torchmetrics objects in ``stage_metrics`` (a ``ModuleDict`` of
    name -> metric per stage, in ``STAGES`` order) and only ``update`` them in ``_step``;
    they are logged as ``<stage>/<name>``, epoch values, and ``progress_bar_metrics`` are
    also shown in the progress bar.
    """

    monitor: str
    monitor_mode: str
    progress_bar_metrics: tuple[str, ...] = ("loss",)
    stage_metrics: nn.ModuleList

    def __init__(self, optimizer: OptimizerFactory, scheduler: SchedulerFactory | None = None):
        super().__init__()
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self._stages_logged: set[str] = set()

    def configure_optimizers(self):
        optimizer = self.optimizer_factory(params=self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        scheduler = self.scheduler_factory(optimizer=optimizer)
        lr_scheduler = {"scheduler": scheduler, "interval": "epoch"}
        return {"optimizer": optimizer, "lr_scheduler": lr_scheduler}

    def metrics_of(self, stage: str) -> nn.ModuleDict:
        return self.stage_metrics[STAGES.index(stage)]

    def _step(self, batch, stage: str) -> torch.Tensor:
        """Loss of ``batch``; updates the stage's metrics."""
        raise NotImplementedError

    def _log_stage_metrics(self, stage: str) -> None:
        """Logs the stage's metric objects once an epoch.

        Lightning computes a logged metric object over all of the epoch's updates at the
        epoch's end, then resets it, so one ``self.log`` per epoch is enough. Logging it at
        every step costs about 0.3 ms a call on a CPU (Lightning moves the metric to its
        device each time), over a tenth of a LeNet-5 step for two metrics.
        """
        if stage in self._stages_logged:
            return
        self._stages_logged.add(stage)
        for name, metric in self.metrics_of(stage).items():
            self.log(f"{stage}/{name}", metric, on_step=False, on_epoch=True,
                     prog_bar=name in self.progress_bar_metrics)

    def training_step(self, batch, batch_idx):
        loss = self._step(batch, "train")
        self._log_stage_metrics("train")
        return loss

    def validation_step(self, batch, batch_idx):
        self._step(batch, "val")
        self._log_stage_metrics("val")

    def test_step(self, batch, batch_idx):
        self._step(batch, "test")
        self._log_stage_metrics("test")

    # Each epoch logs its metric objects anew: Lightning counts only those logged in it.
    def on_train_epoch_start(self) -> None:
        self._stages_logged.discard("train")

    def on_validation_epoch_start(self) -> None:
        self._stages_logged.discard("val")

    def on_test_epoch_start(self) -> None:
        self._stages_logged.discard("test")
