"""A callback that records when each phase of a run starts and ends, for bench/time_to_result.py.

Added to a run with ``+callbacks.phase_timer._target_=bench.phase_timer.PhaseTimer
+callbacks.phase_timer.path=<file>``; it comes after the default callbacks, so its
``on_fit_end`` follows the end-of-fit figures. Times are ``time.time()``, comparable with the
moment the benchmark started the process.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from lightning.pytorch.callbacks import Callback
from typing_extensions import override


class PhaseTimer(Callback):
    """Args:
    path: JSON file the marks are written to (after fit and after test).
    """

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.marks: dict[str, float | list[float]] = {"built": time.time()}

    def _mark(self, name: str) -> None:
        self.marks[name] = time.time()

    def _append(self, name: str) -> None:
        self.marks.setdefault(name, []).append(time.time())

    def _write(self) -> None:
        self.path.write_text(json.dumps(self.marks))

    @override
    def setup(self, trainer, pl_module, stage: str) -> None:
        self._mark(f"setup_{stage}")

    @override
    def on_fit_start(self, trainer, pl_module) -> None:
        self._mark("fit_start")

    @override
    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._append("train_epoch_start")

    @override
    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if batch_idx + 1 == trainer.num_training_batches:
            self._append("train_last_batch_end")

    @override
    def on_validation_start(self, trainer, pl_module) -> None:
        if not trainer.sanity_checking:
            self._append("val_start")

    @override
    def on_validation_end(self, trainer, pl_module) -> None:
        if not trainer.sanity_checking:
            self._append("val_end")

    @override
    def on_train_end(self, trainer, pl_module) -> None:
        self._mark("train_end")

    @override
    def on_fit_end(self, trainer, pl_module) -> None:
        self._mark("fit_end")
        self._write()

    @override
    def on_test_start(self, trainer, pl_module) -> None:
        self._mark("test_start")

    @override
    def on_test_end(self, trainer, pl_module) -> None:
        self._mark("test_end")
        self._write()
