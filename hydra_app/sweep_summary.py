"""At the end of a multirun: one table, plots and a sample sheet for all of its jobs.

Registered as a Hydra callback in ``conf/hydra/default.yaml``. Reads only what every job leaves
in its dir (``.hydra/overrides.yaml``, ``metrics.json``, image grids), so it works for any model
and lists failed or diverged jobs next to the others.
"""

from __future__ import annotations

import csv
import io
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig
from typing_extensions import override

from analysis import seed_groups
from hydra_app import seed_summary
from storage.run_files import (
    MetricsFileError,
    atomic_write_bytes,
    earlier_jobs,
    read_metrics,
    save_figure,
)
from storage.tensorboard import write_sweep_experiment

log = logging.getLogger(__name__)

TABLE_CSV = "summary.csv"
TABLE_MARKDOWN = "summary.md"
SAMPLE_SHEET = "prior_samples_sheet.png"
STATUS_MISSING = "missing"  # the job left no metrics.json
STATUS_UNREADABLE = "unreadable"  # its metrics.json is corrupt


@dataclass
class Job:
    name: str
    directory: Path
    params: dict[str, Any]  # override key -> typed value, as Hydra parses it
    metrics: dict[str, Any]

    @property
    def status(self) -> str:
        return str(self.metrics.get("status", STATUS_MISSING))

    def numeric(self, key: str) -> float | None:
        value = self.metrics.get(key)
        return float(value) if _is_number(value) else None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def collect_jobs(sweep_dir: Path) -> list[Job]:
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf import OmegaConf

    parser = OverridesParser.create()
    jobs = []
    earlier = earlier_jobs(sweep_dir)  # an earlier sweep's, in a sweep dir added to
    for overrides_file in sweep_dir.glob("*/.hydra/overrides.yaml"):
        job_dir = overrides_file.parent.parent
        if job_dir.name in earlier:
            continue
        overrides = parser.parse_overrides(list(OmegaConf.load(overrides_file)))
        params = {o.get_key_element(): o.value() for o in overrides}
        jobs.append(Job(job_dir.name, job_dir, params, _job_metrics(job_dir)))
    return sorted(jobs, key=lambda job: (len(job.name), job.name))  # job numbers: 2 before 10


def _job_metrics(job_dir: Path) -> dict[str, Any]:
    try:
        return read_metrics(job_dir)
    except MetricsFileError as err:  # one damaged job must not cost the others' summary
        log.warning("%s", err)
        return {"status": STATUS_UNREADABLE, "error": str(err)}


def swept_keys(jobs: list[Job]) -> list[str]:
    """Override keys whose value differs between jobs (all of them when none differ)."""
    keys = list(dict.fromkeys(k for job in jobs for k in job.params))
    varying = [k for k in keys if len({repr(job.params.get(k)) for job in jobs}) > 1]
    return varying or keys


def numeric_metrics(jobs: list[Job]) -> list[str]:
    return sorted({k for job in jobs for k, v in job.metrics.items() if _is_number(v)})


def main_metrics(jobs: list[Job]) -> list[str]:
    """The metrics of the last stage the jobs reached: test, else validation, else training."""
    from lightning_modules.base import STAGES

    names = numeric_metrics(jobs)
    for stage in reversed(STAGES):
        chosen = [n for n in names if n.startswith(f"{stage}/")]
        if chosen:
            return chosen
    return names


class SweepSummary(Callback):
    """Writes into the sweep dir ``summary.csv`` (every numeric metric), ``summary.md`` (the
    ``metrics`` to show, by default every test metric), ``sweep_<param>.png`` (those metrics
    against each numeric swept parameter), where jobs drew prior samples,
    ``prior_samples_sheet.png``, and TensorBoard's HParams columns of all the jobs
    (``hparams/``, :func:`storage.tensorboard.write_sweep_experiment`).
    """

    def __init__(self, metrics: list[str] | None = None) -> None:
        self.metrics = list(metrics) if metrics else None

    @override
    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        jobs = collect_jobs(sweep_dir)
        if not jobs:
            log.warning("No jobs found in %s; no sweep summary", sweep_dir)
            return
        written = write_summary(sweep_dir, jobs, self.metrics or main_metrics(jobs))
        # The jobs leave TensorBoard's HParams columns to the sweep, which has all of them.
        if (experiment := write_sweep_experiment(sweep_dir)) is not None:
            written.append(experiment)
        log.info("Sweep summary of %d jobs: %s", len(jobs), ", ".join(str(p) for p in written))


def write_summary(sweep_dir: Path, jobs: list[Job], shown: list[str]) -> list[Path]:
    params = swept_keys(jobs)
    # Jobs that differ only by seed: the tables and plots are per group, the job rows move aside.
    groups = seed_groups.group_by_seed([{p: job.params.get(p) for p in params} for job in jobs])
    job_tables = (TABLE_CSV, TABLE_MARKDOWN)
    if groups is not None:
        job_tables = (seed_summary.JOBS_CSV, seed_summary.JOBS_MARKDOWN)
    written = [
        _write_csv(sweep_dir / job_tables[0], jobs, params, numeric_metrics(jobs)),
        _write_markdown(sweep_dir / job_tables[1], jobs, params, shown),
    ]
    if groups is not None:
        group_params = [p for p in params if p != seed_groups.SEED_KEY]
        metrics = [job.metrics for job in jobs]
        written += seed_summary.write(
            sweep_dir, groups, metrics, group_params, numeric_metrics(jobs), shown,
            TABLE_CSV, TABLE_MARKDOWN,
        )  # fmt: skip
    for key in params if groups is None else []:
        if all(_is_number(job.params.get(key)) for job in jobs):
            written.append(
                save_figure(
                    plot_against(jobs, key, params, shown),
                    sweep_dir / f"sweep_{_file_safe(key)}.png",
                )
            )
    sheet = sample_sheet(jobs, params)
    if sheet is not None:
        written.append(save_figure(sheet, sweep_dir / SAMPLE_SHEET))
    return written


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.5g}"
    return str(value)


def _write_csv(path: Path, jobs: list[Job], params: list[str], metrics: list[str]) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["job", "status", *params, *metrics, "error"])
    for job in jobs:
        writer.writerow(
            [
                job.name,
                job.status,
                *(job.params.get(p) for p in params),
                *(job.metrics.get(m) for m in metrics),
                job.metrics.get("error", ""),
            ]
        )
    atomic_write_bytes(path, buffer.getvalue().encode())
    return path


def _write_markdown(path: Path, jobs: list[Job], params: list[str], metrics: list[str]) -> Path:
    header = ["job", "status", *params, *metrics]
    rows = [
        [
            job.name,
            job.status,
            *(_cell(job.params.get(p)) for p in params),
            *(_cell(job.numeric(m)) for m in metrics),
        ]
        for job in jobs
    ]
    lines = ["| " + " | ".join(cells) + " |" for cells in [header, ["---"] * len(header), *rows]]
    atomic_write_bytes(path, ("\n".join(line.replace("\n", " ") for line in lines) + "\n").encode())
    return path


def _file_safe(key: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in key).strip("_")


def _label(job: Job, keys: list[str]) -> str:
    return ", ".join(f"{k.split('.')[-1]}={_cell(job.params.get(k))}" for k in keys)


def plot_against(jobs: list[Job], key: str, params: list[str], metrics: list[str]):
    """One panel per metric against ``key``; one line per setting of the other swept parameters."""
    from matplotlib.figure import Figure

    others = [p for p in params if p != key]
    groups: dict[str, list[Job]] = {}
    for job in jobs:
        groups.setdefault(_label(job, others), []).append(job)
    values = [float(job.params[key]) for job in jobs]
    log_x = min(values) > 0 and max(values) / min(values) >= 10

    figure = Figure(figsize=(4 * max(len(metrics), 1), 3.5))
    for i, metric in enumerate(metrics):
        ax = figure.add_subplot(1, len(metrics), i + 1)
        for label, members in groups.items():
            points = sorted(
                (float(j.params[key]), j.numeric(metric))
                for j in members
                if j.numeric(metric) is not None
            )  # failed jobs have no metrics
            if points:
                xs, ys = zip(*points, strict=True)
                ax.plot(xs, ys, marker="o", label=label or None)
        if log_x:
            ax.set_xscale("log")
        ax.set_xlabel(key)
        ax.set_title(metric)
        ax.grid(alpha=0.3)
        if others and ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize="small")
    figure.tight_layout()
    return figure


def sample_sheet(jobs: list[Job], params: list[str]):
    """Every job's final prior-sample grid side by side, titled by its parameters, or None."""
    from matplotlib.figure import Figure
    from matplotlib.image import imread

    from callbacks.image_grids import PRIOR_SAMPLES, final_grid_path

    found = [(job, final_grid_path(job.directory, PRIOR_SAMPLES)) for job in jobs]
    found = [(job, path) for job, path in found if path.exists()]
    if not found:
        return None
    columns = min(len(found), 6)
    rows = math.ceil(len(found) / columns)
    figure = Figure(figsize=(3 * columns, 3.4 * rows))
    for i, (job, path) in enumerate(found):
        ax = figure.add_subplot(rows, columns, i + 1)
        ax.imshow(imread(path))
        ax.set_title(_label(job, params).replace(", ", "\n"), fontsize="small")
        ax.axis("off")
    figure.tight_layout()
    return figure
