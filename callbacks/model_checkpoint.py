"""Lightning's ModelCheckpoint with a ``last.ckpt`` that is always the latest finished epoch."""

from __future__ import annotations

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint as LightningModelCheckpoint
from typing_extensions import override


# Lightning's class name: the callback's state in a checkpoint is keyed by it, so checkpoints
# written before this subclass existed resume with their best-so-far state.
class ModelCheckpoint(LightningModelCheckpoint):
    """Saves the top-k checkpoints as Lightning's does, and ``last.ckpt`` at every save point.

    Lightning 2.6 rewrites ``last.ckpt`` only when a top-k checkpoint is saved at the same
    step, so with ``save_top_k=1`` an epoch that does not improve the monitored metric leaves
    the previous epoch's ``last.ckpt``; a kill in the next epoch then loses two epochs, and a
    resume trains the unimproved one again. Here ``last.ckpt`` is written wherever Lightning
    checks for a top-k checkpoint (the end of each epoch, after validation when there is
    one), whether or not one was saved.

    Args:
        **kwargs: Lightning's ``ModelCheckpoint`` arguments (``conf/callbacks/default.yaml``).
    """

    @override
    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_train_epoch_end(trainer, pl_module)
        if self._should_save_on_train_epoch_end(trainer):
            self._save_last_if_behind(trainer)

    @override
    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_validation_end(trainer, pl_module)
        if not self._should_save_on_train_epoch_end(trainer):
            self._save_last_if_behind(trainer)

    def _save_last_if_behind(self, trainer: L.Trainer) -> None:
        """Write ``last.ckpt`` unless a checkpoint of this step was just saved (or saving is off
        here: fast_dev_run, sanity check, not fitting)."""
        # save_last="link" links to the newest saved file, which a non-improving epoch lacks.
        if self.save_last is True and not self._should_skip_saving_checkpoint(trainer):
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))
