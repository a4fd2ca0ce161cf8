"""Progress output: a rich bar on a terminal, nothing per step when output goes to a file."""

from __future__ import annotations

import sys

from lightning.pytorch.callbacks import RichProgressBar
from typing_extensions import override


class ProgressBar(RichProgressBar):
    """Lightning's :class:`RichProgressBar`, shown or not by ``mode``.

    Without a terminal the per-epoch summary lines of ``LearningCurves`` are the progress log,
    so a bar redrawn into a log file would only bury them.

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
