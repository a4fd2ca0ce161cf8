"""Progress output: a rich bar on a terminal, nothing per step when output goes to a file."""

from __future__ import annotations

import sys
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import RichProgressBar
from lightning.pytorch.utilities.types import STEP_OUTPUT
from typing_extensions import override


class ProgressBar(RichProgressBar):
    """Lightning's :class:`RichProgressBar`, shown or not by ``mode``.

    Without a terminal the per-epoch summary lines of ``LearningCurves`` are the progress log,
    so a bar redrawn into a log file would only bury them. The training bar counts optimizer
    steps, also where each training step takes several (``steps_per_execution``).

    Args:
        mode: ``rich`` (always shown), ``none`` (never) or ``auto`` (shown when stdout is a
            terminal); checked with the other settings in ``training/validate.py``.
    """

    def __init__(self, mode: str = "auto") -> None:
        super().__init__()
        self.mode = mode
        self._shown = mode == "rich" or (mode == "auto" and sys.stdout.isatty())
        if not self._shown:
            self.disable()

    @override
    def enable(self) -> None:
        if self._shown:  # Lightning re-enables the bar after a sanity check or a nested loop
            super().enable()

    @property
    @override
    def total_train_batches(self) -> int | float:
        module = self.trainer.lightning_module
        if getattr(module, "steps_per_execution", 1) > 1:
            return module.optimizer_steps_per_epoch
        return super().total_train_batches

    @override
    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: STEP_OUTPUT,
        batch: Any,
        batch_idx: int,
    ) -> None:
        steps = getattr(pl_module, "steps_per_execution", 1)
        steps_done = min((batch_idx + 1) * steps, self.total_train_batches)
        super().on_train_batch_end(trainer, pl_module, outputs, batch, steps_done - 1)
