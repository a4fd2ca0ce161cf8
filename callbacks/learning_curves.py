"""Per-epoch train/validation curves: a log line each epoch, a PNG at the end of fit."""

from __future__ import annotations

import logging
from collections import defaultdict
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities import rank_zero_only
from typing_extensions import override

from storage.run_files import save_figure, write_json

log = logging.getLogger(__name__)

CURVES_FILE = "learning_curves.png"
# {metric: {epoch: value}}, epochs counted from 0; rewritten after every epoch.
CURVES_JSON = "learning_curves.json"
STAGES = ("train", "val")


class LearningCurves(Callback):
    """Keeps each epoch's ``train/*`` and ``val/*`` scalars; plots each metric both stages log.

    The history is part of the checkpoint, so a resumed run plots all of its epochs.
    """

    def __init__(self, filename: str = CURVES_FILE) -> None:
        self.filename = filename
        self.history: dict[str, dict[int, float]] = defaultdict(dict)

    def _record(self, trainer, stage: str) -> dict[str, float]:
        recorded = {}
        for name, value in trainer.callback_metrics.items():
            if name.startswith(f"{stage}/") and value.numel() == 1:
                recorded[name] = self.history[name][trainer.current_epoch] = float(value)
        return recorded

    @override
    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.sanity_checking:
            self._record(trainer, "val")

    @override
    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        train = self._record(trainer, "train")
        epoch = trainer.current_epoch
        val = {k: v[epoch] for k, v in self.history.items() if k.startswith("val/") and epoch in v}
        line = "  ".join(f"{k}={v:.4f}" for k, v in sorted({**train, **val}.items()))
        rank_zero_only(log.info)("epoch %d/%d  %s", epoch + 1, trainer.max_epochs, line)
        if trainer.is_global_zero and not trainer.fast_dev_run:
            write_json(Path(trainer.default_root_dir) / CURVES_JSON, self.history)

    @override
    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.is_global_zero and not trainer.fast_dev_run and self.history:
            figure = self.plot()
            save_figure(figure, Path(trainer.default_root_dir) / self.filename)

    def plot(self):
        from matplotlib.figure import Figure

        by_stage = {
            stage: {k.split("/", 1)[1] for k in self.history if k.startswith(f"{stage}/")}
            for stage in STAGES
        }
        names = sorted(by_stage["train"] & by_stage["val"]) or sorted(by_stage["train"])
        figure = Figure(figsize=(5 * max(len(names), 1), 4))
        for i, name in enumerate(names):
            ax = figure.add_subplot(1, len(names), i + 1)
            for stage in STAGES:
                series = self.history.get(f"{stage}/{name}", {})
                if series:
                    epochs = sorted(series)
                    ax.plot(
                        [e + 1 for e in epochs],
                        [series[e] for e in epochs],
                        marker="o",
                        label="train" if stage == "train" else "validation",
                    )
            ax.set_xlabel("epoch")
            ax.set_ylabel(name)
            ax.set_title(name)
            ax.grid(alpha=0.3)
            ax.legend()
        figure.tight_layout()
        return figure

    @override
    def state_dict(self) -> dict:
        return {"filename": self.filename, "history": {k: dict(v) for k, v in self.history.items()}}

    @override
    def load_state_dict(self, state_dict: dict) -> None:
        self.history = defaultdict(dict, {k: dict(v) for k, v in state_dict["history"].items()})
