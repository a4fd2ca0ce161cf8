"""One LightningModule for every image classifier net that exposes feature taps."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics.classification import MulticlassAccuracy

from lightning_modules.base import (
    STAGES,
    Batch,
    ConfiguredModule,
    OptimizerFactory,
    SchedulerFactory,
    as_net,
    mean_metric,
)


class ImageClassifier(ConfiguredModule):
    """Cross-entropy training; logs ``<stage>/loss``, ``<stage>/acc`` and ``<monitor>_best``.

    Args:
        net: maps images to class scores; its ``features`` and ``tap_names``, if any, are the
            feature taps (else the logits are the only tap).
            Or its config (``_target_`` and arguments), as a checkpoint holds it.
        num_classes: number of classes the net scores.
        input_shape: ``(channels, height, width)`` of one image, for the model summary.
        label_smoothing: the training loss's cross-entropy is against one-hot targets mixed
            with this much of the uniform distribution; validation and test losses are plain.
        optimizer, scheduler, monitor, monitor_mode: see :class:`ConfiguredModule`.
    """

    progress_bar_metrics = ("loss", "acc")

    def __init__(
        self,
        net: nn.Module | Mapping[str, Any],
        optimizer: OptimizerFactory | None = None,
        scheduler: SchedulerFactory | None = None,
        num_classes: int = 10,
        input_shape: tuple[int, ...] = (1, 28, 28),
        monitor: str = "val/acc",
        monitor_mode: str = "max",
        label_smoothing: float = 0.0,
    ) -> None:
        stage_metrics = [
            {
                "loss": mean_metric(),
                # No per-step input checks: each costs a host sync.
                "acc": MulticlassAccuracy(num_classes, average="micro", validate_args=False),
            }
            for _ in STAGES
        ]
        super().__init__(optimizer, scheduler, monitor, monitor_mode, stage_metrics)
        self.save_hyperparameters(ignore=["net", "optimizer", "scheduler"], logger=False)
        self.net = net = as_net(net)
        self.num_classes = num_classes
        self.label_smoothing = label_smoothing
        self.tap_names = tuple(getattr(net, "tap_names", ("logits",)))
        self.example_input_array = torch.zeros(1, *input_shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if hasattr(self.net, "features"):
            return self.net.features(x)
        return {"logits": self.net(x)}

    def _step(self, batch: Batch, stage: str) -> torch.Tensor:
        x, y = batch
        logits = self(x)
        smoothing = self.label_smoothing if stage == "train" else 0.0
        per_image = F.cross_entropy(logits, y, reduction="none", label_smoothing=smoothing)
        metrics = self.metrics_of(stage)
        metrics["loss"].update(per_image.detach())
        metrics["acc"].update(logits.detach(), y)
        return per_image.mean()
