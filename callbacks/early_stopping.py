"""Early stopping on the model's monitored metric, recorded in the run's metrics.json."""

from __future__ import annotations

from typing import Any

import lightning as L
from lightning.pytorch.callbacks import EarlyStopping
from typing_extensions import override

STOPPED_KEY = "early_stopping/stopped"  # true when it ended the run
STOPPED_EPOCH_KEY = "early_stopping/stopped_epoch"  # the last epoch trained, counted from 0


class RecordedEarlyStopping(EarlyStopping):
    """Lightning's :class:`EarlyStopping` that also writes whether and when it stopped the run
    into the model's ``records`` (and so into ``metrics.json``).

    Args:
        monitor: the metric to watch; the config passes ``model.monitor``.
        mode: ``min`` or ``max``; the config passes ``model.monitor_mode``.
        patience: validation epochs without an improvement of more than ``min_delta`` before
            the run stops.
        min_delta: the smallest change that counts as an improvement.
    """

    def __init__(self, monitor: str, mode: str, patience: int = 5, min_delta: float = 0.0) -> None:
        super().__init__(monitor=monitor, mode=mode, patience=patience, min_delta=min_delta)

    @override
    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        # Lightning restores the checkpoint's patience too; a resume applies this run's, as it
        # does every other changed callback setting (callbacks/run_settings.py records it).
        super().load_state_dict({**state_dict, "patience": self.patience})

    @override
    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        records = getattr(pl_module, "records", None)
        if records is None:
            return
        stopped = self.stopped_epoch > 0
        records[STOPPED_KEY] = stopped
        if stopped:
            records[STOPPED_EPOCH_KEY] = self.stopped_epoch


def early_stopping(
    monitor: str, mode: str, patience: int | None = None, min_delta: float = 0.0
) -> RecordedEarlyStopping | None:
    """The callback, or None (off) while ``patience`` is null."""
    if patience is None:
        return None
    return RecordedEarlyStopping(monitor, mode, patience, min_delta)
