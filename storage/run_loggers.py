"""What each of a run's loggers takes, decided in one place for every part of a run that writes.

TensorBoard takes images, its own charts and the HParams entry; MLflow the hyperparameters,
the final metrics and the run's figures (its PNGs, as artifacts); CSV the hyperparameters and
the final metrics. A part that writes what none of the run's loggers takes skips it, saying so
once per run in the log.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from storage.tensorboard import close_event_file, tensorboard_logger, write_hparams

log = logging.getLogger(__name__)

# Run-dir folders whose PNGs are no figures of the run (TensorBoard's projector sprites).
NOT_FIGURES = ("tensorboard", "checkpoints")

_told: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # trainer -> what was skipped


def tensorboard_for(trainer, what: str):
    """The run's TensorBoard ``SummaryWriter`` for ``what`` only TensorBoard shows (a chart
    layout, the embedding projector); ``None``, said once per run, without one.

    Args:
        trainer: the run's Lightning trainer.
        what: what the caller writes, for the log line.
    """
    logger = tensorboard_logger(trainer)
    if logger is None:
        _skip_once(trainer, what)
        return None
    return logger.experiment


def log_image(trainer, tag: str, image, step: int, dataformats: str = "HWC") -> None:
    """Show ``image`` (uint8 pixels or a float tensor) under ``tag`` in TensorBoard's Images tab.

    MLflow gets the run's figures from their PNGs at the end (:func:`log_final`); without
    TensorBoard the image is skipped, said once per run.

    Args:
        trainer: the run's Lightning trainer.
        tag: the image's name in TensorBoard.
        image: ``[H, W, 3]`` pixels, or what ``dataformats`` says.
        step: the global step it belongs to.
        dataformats: the axes of ``image``, e.g. ``CHW`` for a torchvision grid.
    """
    writer = tensorboard_for(trainer, "images")
    if writer is not None:
        writer.add_image(tag, image, global_step=step, dataformats=dataformats)


def log_final(
    trainer,
    hparams: Mapping[str, Any],
    metrics: Mapping[str, float],
    shown_first: Collection[str] = (),
    succeeded: bool = True,
    declare_columns: bool = True,
) -> None:
    """The run's last writes: its settings and final metrics to every logger, and its figures
    to MLflow. Ends TensorBoard's event file.

    Args:
        trainer: the run's Lightning trainer; its ``default_root_dir`` holds the figures.
        hparams: flat settings, as in TensorBoard's HParams tab.
        metrics: the final numbers, under ``final/``.
        shown_first: see :func:`storage.tensorboard.write_hparams`.
        succeeded: whether the run ended as it should.
        declare_columns: see :func:`storage.tensorboard.write_hparams`.
    """
    from lightning.pytorch.loggers import MLFlowLogger

    tensorboard = tensorboard_logger(trainer)
    for logger in trainer.loggers:
        if logger is tensorboard:
            try:
                write_hparams(logger, hparams, metrics, shown_first, succeeded, declare_columns)
            finally:
                close_event_file(logger)
            continue
        logger.log_hyperparams(dict(hparams))
        logger.log_metrics(dict(metrics))
        if isinstance(logger, MLFlowLogger):
            _log_figures(logger, Path(trainer.default_root_dir))
        logger.save()  # CSV writes its rows only here and at the end of each stage


def _log_figures(logger, run_dir: Path) -> None:
    """Every PNG of the run dir, under its folder there, as an artifact of the MLflow run."""
    for png in sorted(run_dir.rglob("*.png")):
        folder = png.parent.relative_to(run_dir)
        if folder.parts[:1] and folder.parts[0] in NOT_FIGURES:
            continue
        artifact_path = None if folder == Path() else folder.as_posix()
        logger.experiment.log_artifact(logger.run_id, str(png), artifact_path=artifact_path)


def _skip_once(trainer, what: str) -> None:
    try:
        told = _told.setdefault(trainer, set())
    except TypeError:  # a stand-in without weak references: said each time
        told = set()
    if what not in told:
        told.add(what)
        log.info("No TensorBoard logger in this run: skipping %s", what)
