"""Row-normalised test confusion matrix and the most confused class pairs."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities.types import STEP_OUTPUT
from typing_extensions import override

from analysis.class_figures import confusion_figure, draw
from analysis.confusion import TOP_CONFUSED_KEY, format_pair, top_confused_pairs
from lightning_modules.protocols import Classifier
from storage.run_files import update_metrics, write_json
from storage.run_loggers import log_image

log = logging.getLogger(__name__)

CONFUSION_FILE = "confusion_matrix.png"
# The matrix itself, rows normalised: {"classes": [...], "matrix": [[...], ...]}.
CONFUSION_JSON = "confusion_matrix.json"
CONFUSION_TAG = "test/confusion_matrix"


class ConfusionMatrix(Callback):
    """Accumulates a ``MulticlassConfusionMatrix`` over the test set of any :class:`Classifier`.

    At the end of testing it saves the matrix (row = true class, normalised to 1) as a PNG and a
    TensorBoard figure and as ``confusion_matrix.json``, writes the ``top_k`` most confused pairs
    to ``metrics.json`` and logs them.
    """

    def __init__(self, top_k: int = 5, filename: str = CONFUSION_FILE) -> None:
        self.top_k = top_k
        self.filename = filename
        self._confusion = None

    @override
    def on_test_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._confusion = None
        if trainer.fast_dev_run:
            log.debug("Confusion matrix skipped under fast_dev_run")
            return
        if not isinstance(pl_module, Classifier):
            log.info("Confusion matrix skipped: %s is not a classifier", type(pl_module).__name__)
            return
        from torchmetrics.classification import MulticlassConfusionMatrix

        self._confusion = MulticlassConfusionMatrix(pl_module.num_classes, normalize="true")
        self._confusion.to(pl_module.device)

    @override
    def on_test_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: STEP_OUTPUT,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if self._confusion is not None:
            images, targets = batch
            self._confusion.update(pl_module(images), targets)

    @override
    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._confusion is None:
            return
        matrix = self._confusion.compute().cpu()  # every rank takes part in the sync
        self._confusion = None
        if not trainer.is_global_zero:
            return
        class_names = getattr(trainer.datamodule, "class_names", None) or [
            str(i) for i in range(len(matrix))
        ]
        figure = confusion_figure(matrix.numpy(), class_names, title="test confusion (row = true)")
        pixels = draw(figure, Path(trainer.default_root_dir) / self.filename)
        write_json(
            Path(trainer.default_root_dir) / CONFUSION_JSON,
            {"classes": list(class_names), "matrix": matrix.tolist()},
        )
        log_image(trainer, CONFUSION_TAG, pixels, trainer.global_step)

        pairs = top_confused_pairs(matrix, class_names, self.top_k)
        update_metrics(trainer.default_root_dir, {TOP_CONFUSED_KEY: pairs})
        lines = "\n".join(f"  {format_pair(pair)}" for pair in pairs)
        log.info("Most confused classes (true -> predicted, share of the true class):\n%s", lines)
