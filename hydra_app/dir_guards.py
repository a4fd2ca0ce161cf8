"""Hydra callbacks that check a run's or a sweep's dir before Hydra writes anything into it.

Registered in ``conf/hydra/default.yaml``. Hydra writes ``.hydra/`` and the log file into the
run dir before the task function starts, so the checks that keep an existing run intact
(is it in use, does it hold a run, is a resume of the same model) run in ``on_run_start``.
Hydra turns a callback's exception into a warning and goes on, so a refusal exits instead.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf
from typing_extensions import override

from storage.run_files import COMPLETED, MetricsFileError, read_metrics, write_earlier_jobs
from training import resume, run_dir
from training.run_record import rank

log = logging.getLogger(__name__)


def output_dir(config: DictConfig) -> Path:
    """Where the run writes: ``paths.output_dir`` when set apart from Hydra's run dir."""
    raw = OmegaConf.select(config, "paths.output_dir", throw_on_resolution_failure=False)
    path = raw if raw and "${" not in str(raw) else config.hydra.run.dir
    return Path(str(path)).expanduser().resolve()


class RunDirGuard(Callback):
    """Claims the run dir for this run before anything is written into it; see
    :func:`training.run_dir.claim` and :func:`training.resume.check_run_dir`."""

    @override
    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        if rank() != 0:  # DDP ranks rerun the script into rank 0's dir
            return
        try:
            if config.get("resume"):
                resume.check_run_dir(config, dict(config.hydra.runtime.choices))
            run_dir.claim(output_dir(config), resume=bool(config.get("resume")))
        except (resume.ResumeError, run_dir.RunDirError) as err:
            _refuse(err)


class SweepGuard(Callback):
    """Refuses a sweep into a sweep dir that holds jobs, unless ``append_sweep=true``; ends
    the sweep with exit code 1 when any of its jobs did not complete.

    Listed before ``sweep_summary``: Hydra calls ``on_multirun_end`` in reverse order, so
    the summary is written first.
    """

    @override
    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir))
        earlier = job_dirs(sweep_dir)
        if earlier and not config.get("append_sweep"):
            _refuse(
                f"The sweep dir {sweep_dir} already holds the jobs of a sweep "
                f"({', '.join(sorted(earlier))}). Sweep into a new dir (hydra.sweep.dir=<dir>), "
                "or add to this one with append_sweep=true and job dirs of new names, e.g. "
                "'hydra.sweep.subdir=b${hydra.job.num}'."
            )
        if earlier:
            write_earlier_jobs(sweep_dir, earlier)

    @override
    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir))
        statuses = job_statuses(sweep_dir)
        failed = {name: status for name, status in statuses.items() if status != COMPLETED}
        if failed:
            listed = ", ".join(f"{name}: {status}" for name, status in sorted(failed.items()))
            log.error("%d of %d jobs did not complete (%s)", len(failed), len(statuses), listed)
            sys.exit(1)


def _refuse(err: Exception | str) -> None:
    message = err if isinstance(err, str) else f"{type(err).__name__}: {err}"
    sys.exit(f"Error: {message}")


def job_dirs(sweep_dir: Path) -> list[str]:
    """Names of the job dirs under ``sweep_dir``: those with Hydra's ``.hydra/``."""
    return [p.parent.parent.name for p in sweep_dir.glob("*/.hydra/overrides.yaml")]


def job_statuses(sweep_dir: Path) -> dict[str, str]:
    """``{job dir name: status}`` for this sweep's jobs (not an earlier sweep's in the dir)."""
    from storage.run_files import earlier_jobs

    statuses = {}
    for name in set(job_dirs(sweep_dir)) - earlier_jobs(sweep_dir):
        try:
            statuses[name] = str(read_metrics(sweep_dir / name).get("status", "missing"))
        except MetricsFileError:
            statuses[name] = "unreadable"
    return statuses


def end_sweep_early(sweep_config: DictConfig) -> None:
    """Run the sweep's ``on_multirun_end`` callbacks now (the summary of what finished), for a
    sweep cut short by a signal; their own exit code gives way to the signal's."""
    from hydra.utils import instantiate

    config = OmegaConf.create({"hydra": sweep_config})
    for callback_cfg in reversed(list((sweep_config.callbacks or {}).values())):
        try:
            instantiate(callback_cfg).on_multirun_end(config=config)
        except SystemExit:
            pass
        except Exception:
            log.exception("The sweep's end callback %s failed", callback_cfg.get("_target_"))
