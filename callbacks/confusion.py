"""Row-normalised test confusion matrix and the most confused class pairs."""

from __future__ import annotations

import logging
from pathlib import Path

from lightning.pytorch.callbacks import Callback

from lab.confusion import TOP_CONFUSED_KEY, format_pair, top_confused_pairs
from lab.figures import confusion_figure
from lab.run_files import save_figure, update_metrics
from lab.tensorboard import log_figure, tensorboard_writer
from lightning_modules.protocols import Classifier

log = logging.getLogger(__name__)

CONFUSION_FILE = "confusion_matrix.png"
CONFUSION_TAG = "test/confusion_matrix"


class TestConfusion(Callback):
    """Accumulates a ``MulticlassConfusionMatrix`` over the test set of any :class:`Classifier`.

    At the end of testing it saves the matrix (row = true class, normalised to 1) as a PNG and a
    TensorBoard figure, writes the ``top_k`` most confused pairs to ``metrics.json`` and logs them.
    """

    __test__ = False  # its name starts with "Test"; keep pytest from collecting it

    def __init__(self, top_k: int = 5, filename: str = CONFUSION_FILE) -> None:
        if top_k < 1:
            raise ValueError(f"callbacks.confusion.top_k={top_k}; use 1 or more")
        self.top_k = top_k
        self.filename = filename
        self._confusion = None

    def on_test_start(self, trainer, pl_module) -> None:
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

    def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0):
        if self._confusion is not None:
            images, targets = batch
            self._confusion.update(pl_module(images), targets)

    def on_test_end(self, trainer, pl_module) -> None:
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
        save_figure(figure, Path(trainer.default_root_dir) / self.filename)
        log_figure(tensorboard_writer(trainer), CONFUSION_TAG, figure, trainer.global_step)

        pairs = top_confused_pairs(matrix, class_names, self.top_k)
        update_metrics(trainer.default_root_dir, {TOP_CONFUSED_KEY: pairs})
        lines = "\n".join(f"  {format_pair(pair)}" for pair in pairs)
        log.info("Most confused classes (true -> predicted, share of the true class):\n%s", lines)
