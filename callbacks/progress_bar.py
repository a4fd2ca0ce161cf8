"""Progress output: a rich bar on a terminal, nothing per step when output goes to a file."""

from __future__ import annotations

import sys

from lightning.pytorch.callbacks import RichProgressBar, TQDMProgressBar


def progress_bar(mode: str = "auto"):
    """``rich``, ``none`` or ``auto`` (rich when stdout is a terminal, else silent).

    Without a terminal the per-epoch summary lines of ``LearningCurves`` are the progress log.
    """
    if mode not in ("auto", "rich", "none"):
        raise ValueError(f"callbacks.progress_bar.mode={mode!r}; choose auto, rich or none")
    if mode == "rich" or (mode == "auto" and sys.stdout.isatty()):
        return RichProgressBar()
    return TQDMProgressBar(refresh_rate=0)  # refresh_rate=0 disables the bar
