"""The run's settings in each checkpoint, so a resume with other settings is noticed."""

from __future__ import annotations

import logging
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.trainer.states import TrainerFn
from typing_extensions import override

log = logging.getLogger(__name__)


def changed_settings(saved: dict[str, Any], current: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """``{key: (saved value, current value)}`` for every setting that differs."""
    return {
        key: (saved.get(key), current.get(key))
        for key in sorted(saved.keys() | current.keys())
        if saved.get(key) != current.get(key)
    }


class RunSettings(Callback):
    """Stores the flat settings (``runs.build.hyperparameters``) and compares them on resume.

    A resumed run only ends where the uninterrupted one would when it repeats the original
    overrides; a forgotten one is reported, not silently trained with.
    These are the HParams dashboard's settings: paths, hardware and logging switches may change.
    """

    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings = settings

    @override
    def state_dict(self) -> dict[str, Any]:
        return {"settings": self.settings}

    @override
    def on_load_checkpoint(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        checkpoint: dict[str, Any],
    ) -> None:
        if trainer.state.fn != TrainerFn.FITTING:
            return
        saved = checkpoint.get("callbacks", {}).get(self.state_key, {}).get("settings", {})
        if changed := changed_settings(saved, self.settings):
            # As overrides (optimizer.lr=0.05) that restore the original run's settings.
            lines = "\n".join(
                f"  {key.replace('/', '.')}={old}  (this run: {new})"
                for key, (old, new) in changed.items()
            )
            log.warning(
                "Resuming with settings that differ from the checkpoint's run, so the result will "
                "differ from an uninterrupted run. Unless intended, add the original values:\n%s",
                lines,
            )
