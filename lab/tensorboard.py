"""Access to the run's TensorBoard writer for callbacks that log figures and projector data."""

from __future__ import annotations


def tensorboard_writer(trainer):
    """The ``SummaryWriter`` of the trainer's first TensorBoard logger, or ``None`` without one."""
    from lightning.pytorch.loggers import TensorBoardLogger

    for logger in trainer.loggers:
        if isinstance(logger, TensorBoardLogger):
            return logger.experiment
    return None


def log_figure(writer, tag: str, figure, step: int) -> None:
    """Render a matplotlib figure into TensorBoard's Images tab (no-op without a writer)."""
    if writer is not None:
        writer.add_figure(tag, figure, global_step=step, close=False)
