"""The run's TensorBoard logger and its HParams entry (:mod:`storage.run_loggers` decides who
writes to it)."""

from __future__ import annotations

import io
import logging
import os
import time
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import Any

from storage.run_files import atomic_write_bytes

log = logging.getLogger(__name__)

# The HParams dashboard's metric columns are a run's final numbers under this prefix.
FINAL_PREFIX = "final/"
# The hparam that says how the run ended; always listed among the first columns.
STATUS_HPARAM = "status"
# In a sweep dir: the one experiment summary that declares the columns of all its jobs.
SWEEP_HPARAMS_DIR = "hparams"
EVENT_FILE_MARK = "tfevents"  # TensorBoard reads the files whose names hold it


def tensorboard_logger(trainer):
    """The trainer's first ``TensorBoardLogger``, or ``None`` without one."""
    from lightning.pytorch.loggers import TensorBoardLogger

    return next((lg for lg in trainer.loggers if isinstance(lg, TensorBoardLogger)), None)


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


def write_hparams(
    logger,
    hparams: Mapping[str, Any],
    metrics: Mapping[str, float],
    shown_first: Collection[str] = (),
    succeeded: bool = True,
    declare_columns: bool = True,
) -> None:
    """Write the run's entry in TensorBoard's HParams dashboard: ``hparams`` next to ``metrics``.

    The dashboard orders its columns by whether an hparam is marked as differing between
    runs, then by name, and shows the first five; ``shown_first`` are the ones marked.
    TensorBoard takes the columns of all the runs it shows from one run's experiment summary,
    so only a run that got to its final metrics and is no job of a sweep writes one (a sweep
    declares the columns of all its jobs: :func:`write_sweep_experiment`). A run that did not
    succeed ends its session as failed (the dashboard's status filter).

    Args:
        logger: a Lightning ``TensorBoardLogger``.
        hparams: flat settings; values other than bool, number or string are logged as strings.
        metrics: final numbers, also logged as scalars, which the dashboard reads them from.
        shown_first: keys of ``hparams`` to list first.
        succeeded: whether the run ended as it should.
        declare_columns: whether the run may write the experiment summary (false for a job
            of a sweep).
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
    summaries = [session_start, session_end]
    if succeeded and declare_columns:
        summaries.insert(0, experiment)
    writer = logger.experiment._get_file_writer()  # where Lightning's log_hyperparams writes
    for summary in summaries:
        writer.add_summary(summary)


def write_sweep_experiment(sweep_dir: str | os.PathLike) -> Path | None:
    """Declare the HParams columns of every run under ``sweep_dir`` in one experiment summary.

    TensorBoard shows the runs of a dir with the columns of a single experiment summary, so
    the jobs of a sweep write none and this one lists every hparam and every final metric any
    of them logged: a sweep of ``model=lenet,vae`` gets the classifier's columns and the
    VAE's. An hparam whose logged values differ between the runs is marked to be listed
    first, as is the status. The summary goes into ``<sweep_dir>/hparams/``, replacing the
    one written before (a later job, an appended sweep).

    Args:
        sweep_dir: the dir whose runs (the sweep's jobs, each with its TensorBoard dir) to cover.

    Returns:
        The event file written, or None when no run under ``sweep_dir`` logged its settings.
    """
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata
    from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2
    from tensorboard.summary.writer.record_writer import RecordWriter

    out_dir = Path(sweep_dir) / SWEEP_HPARAMS_DIR
    values: dict[str, list] = {}  # hparam -> the values the runs logged
    metrics: set[str] = set()
    for path in sorted(Path(sweep_dir).rglob(f"*{EVENT_FILE_MARK}*")):
        if out_dir not in path.parents:
            for value in _summary_values(path):
                if value.tag == metadata.SESSION_START_INFO_TAG:
                    content = value.metadata.plugin_data.content
                    session = plugin_data_pb2.HParamsPluginData.FromString(content)
                    for name, logged in session.session_start_info.hparams.items():
                        values.setdefault(name, []).append(logged)
                elif value.tag.startswith(FINAL_PREFIX):
                    metrics.add(value.tag)
    if not values:
        return None

    types = {
        "number_value": api_pb2.DATA_TYPE_FLOAT64,
        "string_value": api_pb2.DATA_TYPE_STRING,
        "bool_value": api_pb2.DATA_TYPE_BOOL,
    }
    infos = []
    for name, logged in values.items():
        kinds = {value.WhichOneof("kind") for value in logged}
        data_type = types[kinds.pop()] if len(kinds) == 1 else api_pb2.DATA_TYPE_UNSET  # mixed
        differs = name == STATUS_HPARAM or len({v.SerializeToString() for v in logged}) > 1
        infos.append(api_pb2.HParamInfo(name=name, type=data_type, differs=differs))
    infos.sort(key=lambda info: not info.differs)  # stable: each part in the order first logged
    experiment = api_pb2.Experiment(
        hparam_infos=infos,
        metric_infos=[api_pb2.MetricInfo(name=api_pb2.MetricName(tag=m)) for m in sorted(metrics)],
    )
    content = plugin_data_pb2.HParamsPluginData(
        experiment=experiment, version=metadata.PLUGIN_DATA_VERSION
    ).SerializeToString()
    plugin = SummaryMetadata.PluginData(plugin_name=metadata.PLUGIN_NAME, content=content)
    summary = Summary(
        value=[
            Summary.Value(tag=metadata.EXPERIMENT_TAG, metadata=SummaryMetadata(plugin_data=plugin))
        ]
    )
    now = time.time()
    buffer = io.BytesIO()
    records = RecordWriter(buffer)
    for event in (
        Event(wall_time=now, file_version="brain.Event:2"),
        Event(wall_time=now, summary=summary),
    ):
        records.write(event.SerializeToString())
    earlier = list(out_dir.glob(f"*{EVENT_FILE_MARK}*"))
    # A new name, which TensorBoard loads also where it has read the earlier file.
    path = out_dir / f"events.out.{EVENT_FILE_MARK}.{now:.6f}.sweep"
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, buffer.getvalue())
    for old in earlier:
        old.unlink(missing_ok=True)
    return path


def has_sweep_experiment(sweep_dir: str | os.PathLike) -> bool:
    """Whether :func:`write_sweep_experiment` has declared the columns of ``sweep_dir``'s runs."""
    return any((Path(sweep_dir) / SWEEP_HPARAMS_DIR).glob(f"*{EVENT_FILE_MARK}*"))


def _summary_values(path: Path) -> Iterator:
    """Each summary value of the event file ``path``; a file a kill cut short ends early."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    try:
        for event in EventFileLoader(str(path)).Load():
            yield from event.summary.value
    except Exception as err:  # a damaged file must not cost the other runs their columns
        log.warning("Skipping the rest of %s: %s: %s", path, type(err).__name__, err)


def close_event_file(logger) -> None:
    """End the run's event file, which a ``RunTensorBoardLogger`` keeps open across stages."""
    from storage.run_logger import RunTensorBoardLogger

    if isinstance(logger, RunTensorBoardLogger):
        logger.close()
    else:
        logger.finalize("success")
