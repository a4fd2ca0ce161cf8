"""The study as the report reads it: its jobs, their run dirs and results, and the helpers the
sections share.

Each section names the ``studies`` entries of ``conf/report.yaml`` it reads (the constants
below). A run that is missing or failed becomes a visible :class:`Missing` block, never a gap.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import DictConfig

from analysis import seed_groups
from hydra_app.sweep_summary import Job, sample_sheet
from storage.run_files import save_figure
from study.collect import RunResult
from study.document import Figure, Missing, Section
from study.plan import StudyJob

CLASSIFIERS, ACTIVATIONS, CLASSIFIER_MOMENTUM = "classifiers", "activations", "classifier_momentum"
VAE, VAE_MOMENTUM, KL_WEIGHT = "vae", "vae_momentum", "kl_weight"
MODEL, SEED, ACTIVATION = "model", "seed", "model.activation"
MOMENTUM, KL_WEIGHT_KEY = "optimizer.momentum", "model.kl_weight"

ACC, LOSS = "acc", "loss"
TEST_ACC, VAL_ACC = "test/acc", "val/acc"
NELBO, RECON, KL = "test/nelbo", "test/recon", "test/kl"
HARD_PAIR = (2, 6)  # "classes 2 and 6 are hard to distinguish"
EMBEDDING_METHODS = {"pca": "PCA", "tsne": "t-SNE"}


@dataclass
class Study:
    """The study's jobs, their run dirs and the preset's settings (``cfg.preset``)."""

    directory: Path
    jobs: list[StudyJob]
    dirs: dict[StudyJob, Path]
    preset: DictConfig
    figure_dir: Path
    _results: dict[Path, RunResult] = field(default_factory=dict)

    def result(self, job: StudyJob) -> RunResult:
        directory = self.dirs[job]
        return self._results.setdefault(directory, RunResult(directory))

    def runs(self, study: str) -> list[tuple[StudyJob, RunResult]]:
        return [(job, self.result(job)) for job in self.jobs if job.study == study]

    def figure(self, figure, name: str) -> Path:
        return save_figure(figure, self.figure_dir / f"{name}.png")


def unreadable_records(study: Study) -> list[str]:
    """``<metrics.json>: <why>`` for each run dir whose record cannot be read."""
    states = {study.dirs[job]: study.result(job).state for job in study.jobs}
    return [state.error for state in states.values() if state.status == "unreadable"]


def missing_block(job: StudyJob, result: RunResult) -> Missing | None:
    """A Missing block for a run that did not finish, else None."""
    state = result.state
    if state.finished:
        return None
    why = state.status + (f" ({state.error})" if state.error else "")
    return Missing(f"run {job.label}", f"{why}; run dir {result.directory}")


def usable(section: Section, runs: Sequence[tuple[StudyJob, RunResult]]):
    """The finished runs; a Missing block in ``section`` for each of the others."""
    kept = []
    for job, result in runs:
        missing = missing_block(job, result)
        if missing is None:
            kept.append((job, result))
        else:
            section.add(missing)
    if not runs:
        section.add(Missing("runs", "this study has no jobs in the config"))
    return kept


def by_param(runs, key: str) -> dict[object, list[RunResult]]:
    grouped: dict[object, list[RunResult]] = {}
    for job, result in runs:
        grouped.setdefault(job.params.get(key), []).append(result)
    return grouped


def mean(values: Sequence[float | None]) -> float | None:
    return seed_groups.describe(values)["mean"]


def mean_std(values: Sequence[float | None]) -> str:
    """``mean ± std (n=k)``, the sample standard deviation over seeds; "n/a" without values."""
    stat = seed_groups.describe(values)
    return f"{seed_groups.mean_std_text(stat)} (n={stat['n']})" if stat["n"] else "n/a"


def fmt(value: float | None, digits: int = 4) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.{digits}g}"


def leaf_layers(rows: list[dict]) -> list[dict]:
    """The net's own layers (``net.*``) that hold no other layer."""
    names = [row["name"] for row in rows]
    return [
        row
        for row in rows
        if row["name"].startswith("net.")
        and not any(other.startswith(row["name"] + ".") for other in names)
    ]


def add_sample_sheet(
    study: Study, section: Section, jobs: list[StudyJob], key: str, name: str, caption: str
) -> None:
    sheet_jobs = [
        Job(job.name, study.dirs[job], {key: job.params[key]}, study.result(job).metrics)
        for job in jobs
    ]
    sheet = sample_sheet(sheet_jobs, [key])
    if sheet is None:
        section.add(Missing(caption, "the runs drew no prior samples"))
    else:
        section.add(Figure(study.figure(sheet, name), caption))
