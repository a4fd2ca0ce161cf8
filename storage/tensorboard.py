"""The run's TensorBoard logger, found once for every part that writes to it; its HParams entry."""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from typing import Any


def tensorboard_logger(trainer):
    """The trainer's first ``TensorBoardLogger``, or ``None`` without one."""
    from lightning.pytorch.loggers import TensorBoardLogger

    return next((lg for lg in trainer.loggers if isinstance(lg, TensorBoardLogger)), None)


def tensorboard_writer(trainer):
    """The ``SummaryWriter`` of :func:`tensorboard_logger`, or ``None`` without one."""
    logger = tensorboard_logger(trainer)
    return None if logger is None else logger.experiment


def read_scalars(
    log_dir: str | os.PathLike, prefix: str = ""
) -> dict[str, list[tuple[int, float]]]:
    """``{tag: [(step, value), ...]}`` of every scalar under ``log_dir`` whose tag starts with
    ``prefix``, none sampled away, read with TensorBoard's own event reader."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(log_dir), size_guidance={"scalars": 0})
    events.Reload()
    return {
        tag: [(event.step, event.value) for event in events.Scalars(tag)]
        for tag in events.Tags()["scalars"]
        if tag.startswith(prefix)
    }


def log_pixels(writer, tag: str, pixels, step: int) -> None:
    """``[H, W, 3]`` uint8 pixels into TensorBoard's Images tab (no-op without a writer)."""
    if writer is not None:
        writer.add_image(tag, pixels, global_step=step, dataformats="HWC")


def write_hparams(
    logger,
    hparams: Mapping[str, Any],
    metrics: Mapping[str, float],
    shown_first: Collection[str] = (),
    succeeded: bool = True,
) -> None:
    """Write the run's entry in TensorBoard's HParams dashboard: ``hparams`` next to ``metrics``.

    The dashboard orders its columns by whether an hparam is marked as differing between
    runs, then by name, and shows the first five; ``shown_first`` are the ones marked. A run
    that did not succeed ends its session as failed (the dashboard's status filter) and writes
    no experiment summary: TensorBoard takes the metric columns of a whole sweep from one
    run's, which must be a run that got to its final metrics.

    Args:
        logger: a Lightning ``TensorBoardLogger``.
        hparams: flat settings; values other than bool, number or string are logged as strings.
        metrics: final numbers, also logged as scalars, which the dashboard reads them from.
        shown_first: keys of ``hparams`` to list first.
        succeeded: whether the run ended as it should.
    """
    from tensorboard.plugins.hparams import api_pb2, plugin_data_pb2
    from torch.utils.tensorboard.summary import hparams as hparams_summaries

    values = {
        key: value if isinstance(value, (bool, int, float, str)) else str(value)
        for key, value in hparams.items()
    }
    logger.log_metrics(dict(metrics))
    experiment, session_start, session_end = hparams_summaries(values, dict(metrics))

    def edit(summary, change) -> None:
        plugin_data = summary.value[0].metadata.plugin_data
        data = plugin_data_pb2.HParamsPluginData.FromString(plugin_data.content)
        change(data)
        plugin_data.content = data.SerializeToString()

    def mark(data) -> None:
        for info in data.experiment.hparam_infos:
            info.differs = info.name in shown_first

    def end(data) -> None:
        data.session_end_info.status = (
            api_pb2.STATUS_SUCCESS if succeeded else api_pb2.STATUS_FAILURE
        )

    edit(experiment, mark)
    edit(session_end, end)
    summaries = (
        [experiment, session_start, session_end] if succeeded else [session_start, session_end]
    )
    writer = logger.experiment._get_file_writer()  # where Lightning's log_hyperparams writes
    for summary in summaries:
        writer.add_summary(summary)


def close_event_file(logger) -> None:
    """End the run's event file, which a ``RunTensorBoardLogger`` keeps open across stages."""
    from storage.run_logger import RunTensorBoardLogger

    if isinstance(logger, RunTensorBoardLogger):
        logger.close()
    else:
        logger.finalize("success")
