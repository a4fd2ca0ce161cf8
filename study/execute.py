"""The study's jobs as ordinary ``train.py`` runs, a few at a time; finished ones are skipped."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from hydra_app.config_env import PROJECT_ROOT
from storage.run_files import COMPLETED, DIVERGED, METRICS_FILE, read_metrics
from study.plan import StudyJob

log = logging.getLogger(__name__)

# A diverged run is a result (too much momentum), not a job to repeat.
FINISHED = (COMPLETED, DIVERGED)
CONSOLE_DIR = "console"  # each job's console output, <study dir>/console/<study>/<job>.log
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


@dataclass
class JobState:
    status: str  # a run status from metrics.json, "not run" or "unreadable"
    error: str = ""

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


def job_state(run_dir: Path) -> JobState:
    if not (run_dir / METRICS_FILE).exists():
        return JobState("not run")
    try:
        metrics = read_metrics(run_dir)
    except ValueError as err:
        return JobState("unreadable", f"{run_dir / METRICS_FILE}: {err}")
    return JobState(str(metrics.get("status", "unknown")), str(metrics.get("error", "")))


def _command(job: StudyJob, run_dir: Path) -> list[str]:
    # A run that saved a checkpoint goes on from it; Hydra then reuses its dir.
    placement = (
        f"resume={run_dir}"
        if (run_dir / "checkpoints" / "last.ckpt").exists()
        else f"hydra.run.dir={run_dir}"
    )
    return [
        sys.executable,
        str(PROJECT_ROOT / "train.py"),
        *job.overrides,
        placement,
        "callbacks.progress_bar.mode=none",
    ]


def _set_aside(run_dir: Path) -> None:
    """A run that failed before its first checkpoint is kept, renamed, and started again."""
    attempt = 1
    while run_dir.with_name(f"{run_dir.name}.attempt{attempt}").exists():
        attempt += 1
    run_dir.rename(run_dir.with_name(f"{run_dir.name}.attempt{attempt}"))


def run_jobs(
    dirs: Mapping[StudyJob, Path],
    study_dir: Path,
    parallel: int = 1,
    threads_per_job: int | None = None,
) -> dict[Path, float]:
    """Runs every job whose dir holds no finished run, ``parallel`` at a time; returns each
    started run dir's wall time in seconds. A failed job is logged and does not stop the others.
    """
    pending = list(dict.fromkeys(d for d in dirs.values() if not job_state(d).finished))
    jobs_of = {d: [j for j, jd in dirs.items() if jd == d] for d in pending}
    if not pending:
        return {}
    log.info(
        "Running %d of %d study jobs, %d at a time", len(pending), len(set(dirs.values())), parallel
    )
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    if threads_per_job:
        env.update({name: str(threads_per_job) for name in _THREAD_VARIABLES})
    running: dict[Path, tuple[subprocess.Popen, float]] = {}
    wall_times = {}
    queue = list(pending)
    try:
        while queue or running:
            while queue and len(running) < parallel:
                run_dir = queue.pop(0)
                job = jobs_of[run_dir][0]
                if run_dir.exists() and not (run_dir / "checkpoints" / "last.ckpt").exists():
                    _set_aside(run_dir)
                console = study_dir / CONSOLE_DIR / job.study / f"{job.name}.log"
                console.parent.mkdir(parents=True, exist_ok=True)
                with console.open("w") as out:
                    process = subprocess.Popen(
                        _command(job, run_dir), stdout=out, stderr=subprocess.STDOUT, env=env
                    )
                running[run_dir] = (process, time.perf_counter())
                log.info("Started %s", job.label)
            time.sleep(0.5)
            for run_dir, (process, started) in list(running.items()):
                if process.poll() is None:
                    continue
                del running[run_dir]
                wall_times[run_dir] = time.perf_counter() - started
                state = job_state(run_dir)
                label = jobs_of[run_dir][0].label
                log.info("%s: %s after %.0f s", label, state.status, wall_times[run_dir])
    finally:
        for process, _ in running.values():  # Ctrl-C: the runs stop resumable
            process.terminate()
        for process, _ in running.values():
            process.wait()
    return wall_times
