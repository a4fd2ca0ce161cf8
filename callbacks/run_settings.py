"""The run's settings in each checkpoint; a resume with other settings applies and records them."""

from __future__ import annotations

import logging
import warnings
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.core.optimizer import LRSchedulerConfig
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities.types import STEP_OUTPUT
from typing_extensions import override

log = logging.getLogger(__name__)

# Settings whose change needs the restored optimizer and schedule rebuilt to take effect.
SCHEDULE_KEYS = ("optimizer", "scheduler", "trainer/max_epochs")
# Where the callbacks' settings are in this callback's state.
_CALLBACK_STATE = "callback_settings"


def changed_settings(saved: dict[str, Any], current: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """``{key: (saved value, current value)}`` for every setting that differs."""
    return {
        key: (saved.get(key), current.get(key))
        for key in sorted(saved.keys() | current.keys())
        if saved.get(key) != current.get(key)
    }


def _touches_schedule(key: str) -> bool:
    return any(key == k or key.startswith(f"{k}/") for k in SCHEDULE_KEYS)


class RunSettings(Callback):
    """Stores the flat settings (``training.components.hyperparameters``); applies changed ones
    on resume.

    A changed optimizer, scheduler or ``trainer.max_epochs`` setting rebuilds the restored
    optimizer's hyperparameters and the schedule from this run's config, keeping the
    optimizer's state (momentum buffers) where the optimizer class is the same: the new value
    is what trains from the resumed epoch on. :meth:`record` gives both values and that epoch.
    Settings that change what the weights mean (model, data) are refused before the run starts
    (``training.resume.check_run_dir``).

    Callbacks are built from this run's config, so a changed callback setting applies as it
    is; they are compared apart from the hyperparameters (which the HParams dashboard shows),
    and only with a checkpoint that stored them.

    Args:
        settings: the run's flat settings, as ``training.components.hyperparameters`` gives them.
        callback_settings: the callbacks' flat settings, as
            ``training.components.callback_settings`` gives them.
    """

    def __init__(
        self, settings: dict[str, Any], callback_settings: dict[str, Any] | None = None
    ) -> None:
        self.settings = settings
        self.callback_settings = callback_settings or {}
        self.changed: dict[str, tuple[Any, Any]] = {}
        self.resumed_at_epoch: int | None = None
        self.batches_trained = 0  # by this process

    @override
    def state_dict(self) -> dict[str, Any]:
        return {"settings": self.settings, _CALLBACK_STATE: self.callback_settings}

    @override
    def on_load_checkpoint(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        checkpoint: dict[str, Any],
    ) -> None:
        if trainer.state.fn != TrainerFn.FITTING:
            return
        state = checkpoint.get("callbacks", {}).get(self.state_key, {})
        self.resumed_at_epoch = checkpoint.get("epoch", -1) + 1
        self.changed = changed_settings(state.get("settings", {}), self.settings)
        if _CALLBACK_STATE in state:  # not in checkpoints written before callbacks were stored
            self.changed |= changed_settings(state[_CALLBACK_STATE], self.callback_settings)
            self.changed = dict(sorted(self.changed.items()))
        if self.changed:
            # As overrides (optimizer.lr=0.05) that restore the original run's settings.
            lines = "\n".join(
                f"  {key.replace('/', '.')}={old}  (this run: {new})"
                for key, (old, new) in self.changed.items()
            )
            log.warning(
                "Resuming with settings that differ from the checkpoint's run; this run's values "
                "apply from epoch %d on, so the result differs from an uninterrupted run. Unless "
                "intended, add the original values:\n%s",
                self.resumed_at_epoch + 1,
                lines,
            )

    @override
    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if any(_touches_schedule(key) for key in self.changed):
            _rebuild_schedule(trainer, pl_module)

    @override
    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: STEP_OUTPUT,
        batch: Any,
        batch_idx: int,
    ) -> None:
        self.batches_trained += 1

    def record(self) -> dict[str, Any]:
        """For ``metrics.json``: the epoch a resume started at and each changed setting."""
        if self.resumed_at_epoch is None:
            return {}
        return {
            "resumed_at_epoch": self.resumed_at_epoch,
            "changed_settings": {
                key.replace("/", "."): {"before": old, "after": new}
                for key, (old, new) in self.changed.items()
            },
        }


def _rebuild_schedule(trainer: L.Trainer, pl_module: L.LightningModule) -> None:
    """Give the restored optimizer this run's hyperparameters and a schedule from this run's
    config, advanced to the resumed epoch (as if the run had used it from the start)."""
    fresh = pl_module.configure_optimizers()
    optimizer, scheduler = (
        (fresh["optimizer"], fresh["lr_scheduler"]["scheduler"])
        if isinstance(fresh, dict)
        else (fresh, None)
    )
    [restored] = trainer.optimizers
    if type(restored) is type(optimizer):  # keep its state (momentum); take the new settings
        for old, new in zip(restored.param_groups, optimizer.param_groups, strict=True):
            old.update({key: value for key, value in new.items() if key != "params"})
        optimizer = restored
    else:
        trainer.strategy.optimizers = [optimizer]
    trainer.strategy.lr_scheduler_configs = []
    if scheduler is not None:
        scheduler.optimizer = optimizer
        with warnings.catch_warnings():  # "lr_scheduler.step() before optimizer.step()"
            warnings.simplefilter("ignore", UserWarning)
            for _ in range(trainer.current_epoch):
                scheduler.step()
        trainer.strategy.lr_scheduler_configs = [LRSchedulerConfig(scheduler, interval="epoch")]
    groups = ", ".join(f"lr={group['lr']:g}" for group in optimizer.param_groups)
    log.info(
        "This run's optimizer and schedule settings apply from epoch %d (%s, %s)",
        trainer.current_epoch + 1,
        type(optimizer).__name__,
        groups,
    )
