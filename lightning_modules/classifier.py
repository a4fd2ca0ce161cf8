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
    progress_bar_metrics = ("loss", "acc")

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
        # One metric object per stage and name: Lightning resets and syncs each on its own.
        # No per-step input or NaN checks: they cost a host sync each step, and a non-finite
        # loss is caught by the divergence callback.
        self.stage_metrics = nn.ModuleList(
            nn.ModuleDict({
                "loss": MeanMetric(nan_strategy="disable"),
                "acc": MulticlassAccuracy(num_classes, average="micro", validate_args=False),
            })
            for _ in STAGES
        )
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
        per_image = F.cross_entropy(logits, y, reduction="none")
        metrics = self.metrics_of(stage)
        # Per-image values make the epoch loss a mean over images (a MeanMetric that skips the
        # NaN check ignores ``weight``).
        metrics["loss"].update(per_image.detach())
        metrics["acc"].update(logits.detach(), y)
        return per_image.mean()

    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking:
            return
        self.val_acc_best(self.metrics_of("val")["acc"].compute())
        # A plain tensor: Lightning only syncs it across DDP ranks when asked.
        self.log(f"{self.monitor}_best", self.val_acc_best.compute(), prog_bar=True, sync_dist=True)
