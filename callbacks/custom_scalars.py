"""Train and validation curves of each metric on one TensorBoard chart (Custom Scalars tab)."""

from __future__ import annotations

import logging
import re

import lightning as L
from lightning.pytorch.callbacks import Callback
from typing_extensions import override

from lightning_modules.protocols import StageMetrics
from storage.run_loggers import tensorboard_for

log = logging.getLogger(__name__)

CATEGORY = "train vs validation"
STAGES = ("train", "val")


def layout(model: StageMetrics) -> dict[str, dict[str, list]]:
    """One multiline chart per metric that both stages log, as for ``learning_curves.png``.

    A chart's tags are regular expressions; anchored, so ``val/loss`` leaves out
    ``val/loss_best``.
    """
    train, val = (list(model.metrics_of(stage)) for stage in STAGES)
    charts = {
        name: ["Multiline", [f"^{stage}/{re.escape(name)}$" for stage in STAGES]]
        for name in train
        if name in val
    }
    return {CATEGORY: charts} if charts else {}


class CustomScalars(Callback):
    """Writes the :func:`layout` into the run's TensorBoard log when fitting starts."""

    @override
    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        if (writer := tensorboard_for(trainer, "the train-vs-validation charts")) is None:
            return
        if not isinstance(pl_module, StageMetrics):
            log.debug("CustomScalars: %s logs no stage metrics", type(pl_module).__name__)
            return
        if charts := layout(pl_module):
            writer.add_custom_scalars(charts)
