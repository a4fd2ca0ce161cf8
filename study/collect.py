"""What the study's runs left in their dirs, read back for the report; nothing is recomputed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from callbacks.architecture_summary import ARCHITECTURE_JSON
from callbacks.confusion_matrix import CONFUSION_FILE, CONFUSION_JSON
from callbacks.image_grids import final_grid_path
from callbacks.learning_curves import CURVES_JSON
from storage.run_files import read_metrics
from storage.tensorboard import read_scalars
from study.execute import JobState, job_state

TENSORBOARD_DIR = "tensorboard"  # conf/logger/tensorboard.yaml: name


@dataclass
class RunResult:
    """One run dir of the study, read lazily; every reader returns None for a missing file."""

    directory: Path

    @cached_property
    def state(self) -> JobState:
        return job_state(self.directory)

    @cached_property
    def metrics(self) -> dict[str, Any]:
        return read_metrics(self.directory) if self.state.status != "unreadable" else {}

    def number(self, key: str) -> float | None:
        value = self.metrics.get(key)
        is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
        return float(value) if is_number else None

    def _json(self, name: str) -> Any:
        path = self.directory / name
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            return None

    @cached_property
    def curves(self) -> dict[str, dict[int, float]]:
        """metric -> epoch (from 0) -> value."""
        raw = self._json(CURVES_JSON) or {}
        return {name: {int(e): float(v) for e, v in series.items()} for name, series in raw.items()}

    @cached_property
    def architecture(self) -> list[dict] | None:
        return self._json(ARCHITECTURE_JSON)

    @cached_property
    def confusion(self) -> dict | None:
        """``{"classes": [...], "matrix": [[...]]}``, rows normalised."""
        return self._json(CONFUSION_JSON)

    def file(self, relative: str) -> Path | None:
        path = self.directory / relative
        return path if path.is_file() else None

    def grid(self, name: str) -> Path | None:
        path = final_grid_path(self.directory, name)
        return path if path.is_file() else None

    @property
    def confusion_figure(self) -> Path | None:
        return self.file(CONFUSION_FILE)

    def scalars(self, prefix: str) -> dict[str, list[tuple[int, float]]]:
        log_dir = self.directory / TENSORBOARD_DIR
        return read_scalars(log_dir, prefix) if log_dir.is_dir() else {}
