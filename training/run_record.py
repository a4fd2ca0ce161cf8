"""The final record of a run: metrics.json and the HParams dashboard entry."""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from storage.run_files import COMPLETED, FAILED, RUNNING, update_metrics
from storage.run_loggers import log_final
from storage.tensorboard import (
    FINAL_PREFIX,
    STATUS_HPARAM,
    has_sweep_experiment,
    write_sweep_experiment,
)
from training.components import Run, overridden

# Hydra's record of a sweep (its basic sweeper's), in the sweep dir.
SWEEP_CONFIG = "multirun.yaml"

log = logging.getLogger(__name__)


class RunRecord:
    """A run's ``metrics.json`` from start to end: ``running`` at once, then the final
    metrics, or, for a run that raised, its status, error and what it got to.

    Args:
        out_dir: the run dir.
        tags: the run's ``tags``, kept in every state of the record.
    """

    def __init__(self, out_dir: Path, tags: list[str] | None = None) -> None:
        self.out_dir = out_dir
        self.run: Run | None = None
        # A resume writes its record anew.
        record(out_dir, {"status": RUNNING, "tags": list(tags or [])}, fresh=True)
        self.started = time.perf_counter()

    def watch(self, run: Run) -> Run:
        """From here on a failure's record holds what ``run``'s trainer got to."""
        self.run = run
        return run

    def failed(self, err: BaseException) -> None:
        """Record ``err``; a failed or diverged job is in the sweep's HParams too."""
        trainer = self.run.trainer if self.run is not None else None
        entries = record(self.out_dir, failure(err, trainer))
        if self.run is not None:
            log_failed_hparams(trainer, self.run.hyperparameters, entries)

    def completed(self, run: Run, metrics: dict[str, Any]) -> dict[str, Any]:
        """Write the final ``metrics.json`` and the HParams entry; returns the metrics."""
        metrics = {
            **metrics,
            **run.model.records,
            "status": COMPLETED,
            "epochs": run.trainer.current_epoch,
            "num_params": sum(p.numel() for p in run.model.parameters()),
            "wall_time_s": round(time.perf_counter() - self.started, 2),
        }
        log_hparams(run.trainer, run.hyperparameters, metrics)
        return record(self.out_dir, metrics)


def scalar_metrics(trainer) -> dict[str, float]:
    return {k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1}


def checkpoint_summary(trainer) -> dict[str, Any]:
    ckpt = trainer.checkpoint_callback
    if ckpt is None or not ckpt.best_model_path or ckpt.best_model_score is None:
        return {}
    return {
        "best_checkpoint": str(Path(ckpt.best_model_path)),
        f"best/{ckpt.monitor}": float(ckpt.best_model_score),
    }


def failure(err: BaseException, trainer=None) -> dict[str, Any]:
    """The record of a run that raised ``err``: its status (``failed``, ``diverged``,
    ``interrupted``), the error, and what the run got to (fit metrics, best checkpoint)."""
    got_to = {} if trainer is None else {**scalar_metrics(trainer), **checkpoint_summary(trainer)}
    return {
        **got_to,
        "status": getattr(err, "status", FAILED),
        "error": f"{type(err).__name__}: {err}",
    }


def log_hparams(trainer, hyperparameters: dict, metrics: dict[str, Any]) -> None:
    """Give the run's settings, status and final metrics to its loggers: TensorBoard's HParams
    dashboard, MLflow's params and metrics (with the run's figures), CSV's files.

    The last write of the run to TensorBoard: it closes the run's event file. The command
    line's overrides are listed first, with the status. A job of a sweep leaves the columns
    to the sweep's experiment summary, which lists those of all its jobs (written at the end
    of the sweep; again here when a job runs alone in a sweep dir, e.g. resumed).
    """
    if not trainer.loggers or rank() != 0:
        return
    status = metrics.get("status", FAILED)
    numeric = {f"{FINAL_PREFIX}{k}": v for k, v in metrics.items() if isinstance(v, (int, float))}
    sweep_dir, in_multirun = _sweep()
    log_final(
        trainer,
        {**hyperparameters, STATUS_HPARAM: status},
        numeric,
        shown_first=[*overridden(hyperparameters), STATUS_HPARAM],
        succeeded=status == COMPLETED,
        declare_columns=sweep_dir is None,
    )
    if sweep_dir is not None and not in_multirun:
        write_sweep_experiment(sweep_dir)


def _sweep() -> tuple[Path | None, bool]:
    """The sweep dir this run is a job of (None for a run of its own), and whether it runs
    in the sweep itself rather than alone (resumed, or the single run of a DDP job).

    A job run alone is found by its dir's parent: a sweep dir holds Hydra's ``multirun.yaml``
    or, once a sweep ended, its experiment summary.
    """
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized():
        return None, False
    hydra = HydraConfig.get()
    if hydra.mode == RunMode.MULTIRUN:
        return Path(hydra.sweep.dir), True
    parent = Path(hydra.runtime.output_dir).parent
    if (parent / SWEEP_CONFIG).is_file() or has_sweep_experiment(parent):
        return parent, False
    return None, False


def log_failed_hparams(trainer, hyperparameters: dict, failure: dict[str, Any]) -> None:
    """:func:`log_hparams` for a run that raised ``failure`` (its status and error), with the
    metrics it got to; an error here is logged, not raised, so the run's own stays the one
    reported."""
    try:
        metrics = {**scalar_metrics(trainer), **checkpoint_summary(trainer), **failure}
        log_hparams(trainer, hyperparameters, metrics)
    except Exception:
        log.exception("Could not add the %s run to the HParams dashboard", failure.get("status"))


def record(run_dir: str | Path, entries: dict[str, Any], fresh: bool = False) -> dict[str, Any]:
    """Merge ``entries`` into the run's ``metrics.json``; under DDP only global rank 0 writes.

    ``fresh`` starts the file anew: each run (a resume too) writes its own record, so no key
    of an earlier run in the dir is left in it.
    """
    if rank() != 0:  # every DDP rank runs train(); they share one run dir
        return dict(entries)
    metrics = update_metrics(run_dir, entries, fresh=fresh)
    log.info("Metrics written to %s", Path(run_dir) / "metrics.json")
    return metrics


def rank() -> int:
    """This process's global rank; read from the environment until Lightning is imported.

    A config error must be reported without the seconds that importing Lightning takes; the
    variables are the ones Lightning itself reads (``lightning_fabric``'s ``_get_rank``).
    """
    if "lightning" in sys.modules:
        from lightning.pytorch.utilities import rank_zero_only

        return rank_zero_only.rank
    for key in ("RANK", "LOCAL_RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK"):
        if (rank := os.environ.get(key)) is not None:
            return int(rank)
    return 0
