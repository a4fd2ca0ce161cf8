"""The study's runs: each entry of ``studies`` in ``conf/report.yaml`` becomes one ``train.py``
job per point of its sweep, in ``<study dir>/<study>/<job>``."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from training.validate import ConfigError

# Settings that name where a run writes, not what it computes: two jobs that differ only in these
# are the same experiment, and the study runs it once.
_PLACEMENT_KEYS = ("hydra", "paths", "task_name", "tags", "resume", "ckpt_path")


@dataclass(frozen=True)
class StudyJob:
    study: str  # the entry of ``studies`` it belongs to
    name: str  # its dir name, from the swept values, e.g. "model-lenet_seed-1"
    overrides: tuple[str, ...]
    params: Mapping[str, object] = field(default_factory=dict, compare=False, hash=False)

    @property
    def label(self) -> str:
        return f"{self.study}/{self.name}"


def _job_name(study: str, point: Mapping[str, object]) -> str:
    if not point:
        return study
    return "_".join(f"{key.split('.')[-1]}-{value}" for key, value in point.items())


def plan_jobs(studies: DictConfig | Mapping, extra_overrides: Sequence[str] = ()) -> list[StudyJob]:
    """One :class:`StudyJob` per point of each study's ``sweep`` (``{key: [values]}``), with the
    study's ``overrides`` and ``extra_overrides`` (added to every job, e.g. an accelerator)."""
    jobs = []
    for study, spec in studies.items():
        spec = OmegaConf.to_container(spec, resolve=True) if isinstance(spec, DictConfig) else spec
        sweep = spec.get("sweep") or {}
        keys = list(sweep)
        for values in itertools.product(*(sweep[key] for key in keys)):
            point = dict(zip(keys, values, strict=True))
            overrides = [
                *spec.get("overrides", []),
                *(f"{key}={value}" for key, value in point.items()),
                *extra_overrides,
            ]
            jobs.append(StudyJob(study, _job_name(study, point), tuple(overrides), point))
    return jobs


def _canonical(value):
    """Numbers as floats, so that ``kl_weight=1`` and a default of ``1.0`` compare equal."""
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def experiment_keys(jobs: Sequence[StudyJob]) -> dict[StudyJob, str]:
    """Each job's composed ``train.py`` config without placement settings, as YAML: equal keys
    mean the same experiment."""
    from hydra import compose

    from hydra_app.config_env import initialized

    keys = {}
    with initialized():
        for job in jobs:
            cfg = OmegaConf.to_container(compose("train", overrides=list(job.overrides)))
            for key in _PLACEMENT_KEYS:
                cfg.pop(key, None)
            keys[job] = OmegaConf.to_yaml(OmegaConf.create(_canonical(cfg)), sort_keys=True)
    return keys


def job_dirs(jobs: Sequence[StudyJob], study_dir: Path) -> dict[StudyJob, Path]:
    """Each job's run dir; a job that repeats an earlier job's experiment shares its dir."""
    first_of: dict[str, Path] = {}
    keys = experiment_keys(jobs)
    return {job: first_of.setdefault(keys[job], study_dir / job.study / job.name) for job in jobs}


def check_holds_study(dirs: Mapping[StudyJob, Path], study_dir: Path) -> None:
    """Raise :class:`ConfigError` when ``study_dir`` holds none of the study's run dirs, so
    that a report is never written into a dir of something else."""
    if any(directory.is_dir() for directory in dirs.values()):
        return
    expected = sorted({str(directory.relative_to(study_dir)) for directory in dirs.values()})
    raise ConfigError(
        f"study_dir={study_dir} holds no run of the study (none of its {len(expected)} run dirs "
        f"such as {expected[0]}/); give the study_dir of an earlier report.py, or drop "
        "run_missing=false to run the study there"
    )
