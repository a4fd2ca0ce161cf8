"""The run's TensorBoard logger, found once for every part that writes to it."""

from __future__ import annotations


def tensorboard_logger(trainer):
    """The trainer's first ``TensorBoardLogger``, or ``None`` without one."""
    from lightning.pytorch.loggers import TensorBoardLogger

    return next((lg for lg in trainer.loggers if isinstance(lg, TensorBoardLogger)), None)


def tensorboard_writer(trainer):
    """The ``SummaryWriter`` of :func:`tensorboard_logger`, or ``None`` without one."""
    logger = tensorboard_logger(trainer)
    return None if logger is None else logger.experiment


def log_figure(writer, tag: str, figure, step: int) -> None:
    """Render a matplotlib figure into TensorBoard's Images tab (no-op without a writer)."""
    if writer is not None:
        writer.add_figure(tag, figure, global_step=step, close=False)
