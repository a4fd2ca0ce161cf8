"""On resume, hide the TensorBoard events that a killed run wrote after its last checkpoint."""

from __future__ import annotations

import logging
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.trainer.states import TrainerFn
from typing_extensions import override

from storage.run_loggers import tensorboard_for

log = logging.getLogger(__name__)


class PurgeStaleEvents(Callback):
    """Marks a restart in each TensorBoard log when training resumes from a checkpoint.

    The steps after the checkpoint are trained again, so without the mark TensorBoard would
    draw them twice. The mark is the session-start event that ``SummaryWriter(purge_step=...)``
    writes: TensorBoard drops the earlier events from that step on.
    """

    @override
    def on_load_checkpoint(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        checkpoint: dict[str, Any],
    ) -> None:
        if trainer.state.fn != TrainerFn.FITTING:  # testing a checkpoint trains nothing again
            return
        from tensorboard.compat.proto.event_pb2 import Event, SessionLog

        # Lightning logs a finished epoch's metrics at global_step - 1; from global_step on
        # every event belongs to the training that is done again.
        first_stale_step = checkpoint["global_step"]
        writer = tensorboard_for(trainer, "the restart mark of a resumed run")
        if writer is None:
            return
        restart = Event(step=first_stale_step, session_log=SessionLog(status=SessionLog.START))
        writer.file_writer.add_event(restart)
        log.info(
            "TensorBoard: events of %s from step %d on are superseded",
            writer.log_dir,
            first_stale_step,
        )
