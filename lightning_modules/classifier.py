"""One LightningModule for every image classifier net that exposes feature taps."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import MaxMetric, MeanMetric
from torchmetrics.classification import MulticlassAccuracy

from lightning_modules.base import STAGES, ConfiguredModule, OptimizerFactory, SchedulerFactory


class ImageClassifier(ConfiguredModule):
    """Cross-entropy training; logs ``<stage>/loss``, ``<stage>/acc`` and ``val/acc_best``."""

    monitor = "val/acc"
    monitor_mode = "max"

    def __init__(
        self,
        net: nn.Module,
        optimizer: OptimizerFactory,
        scheduler: SchedulerFactory | None = None,
        num_classes: int = 10,
        input_shape: tuple[int, ...] = (1, 28, 28),
    ) -> None:
        super().__init__(optimizer, scheduler)
        self.save_hyperparameters(ignore=["net", "optimizer", "scheduler"], logger=False)
        self.net = net
        self.num_classes = num_classes
        self.tap_names = tuple(getattr(net, "tap_names", ("logits",)))
        # One metric object per stage: Lightning resets and syncs each on its own.
        # No per-step input checks: they cost a host sync each step, and a non-finite loss is
        # caught by the divergence callback.
        self.acc = nn.ModuleList(
            MulticlassAccuracy(num_classes, average="micro", validate_args=False) for _ in STAGES
        )
        self.mean_loss = nn.ModuleList(MeanMetric(nan_strategy="disable") for _ in STAGES)
        self.val_acc_best = MaxMetric()
        self.val_acc_best.persistent(True)  # training state: a resumed run must remember the best
        self.example_input_array = torch.zeros(1, *input_shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if hasattr(self.net, "features"):
            return self.net.features(x)
        return {"logits": self.net(x)}

    def _step(self, batch, stage: str) -> torch.Tensor:
        x, y = batch
        logits = self(x)
        loss = F.cross_entropy(logits, y)
        i = STAGES.index(stage)
        self.mean_loss[i](loss)
        self.acc[i](logits, y)
        self.log(f"{stage}/loss", self.mean_loss[i], on_step=False, on_epoch=True, prog_bar=True)
        self.log(f"{stage}/acc", self.acc[i], on_step=False, on_epoch=True, prog_bar=True)
        return loss

    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking:
            return
        self.val_acc_best(self.acc[STAGES.index("val")].compute())
        # A plain tensor: Lightning only syncs it across DDP ranks when asked.
        self.log(f"{self.monitor}_best", self.val_acc_best.compute(), prog_bar=True, sync_dist=True)
