"""Helpers for the tests that run multiruns through the CLI and read back each job's dir."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.conftest import tiny_overrides


def cli_overrides(data_dir: Path, log_dir: Path) -> list[str]:
    """``tiny_overrides`` that leave each run's dir to Hydra: run dir, or sweep dir + job number."""
    return [
        override
        for override in tiny_overrides(data_dir, log_dir)
        if not override.startswith("paths.output_dir=")
    ]


def job_dirs(sweep_dir: Path) -> list[Path]:
    """The sweep's job dirs (``hydra.sweep.subdir`` is the job number), in job order."""
    return sorted((d for d in sweep_dir.iterdir() if d.name.isdigit()), key=lambda d: int(d.name))


def metrics(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())


def job_overrides(run_dir: Path) -> dict[str, str]:
    """``key=value`` overrides Hydra saved for the job, as a dict."""
    saved = yaml.safe_load((run_dir / ".hydra" / "overrides.yaml").read_text())
    return dict(override.split("=", 1) for override in saved)


def stage_metrics(values: dict) -> dict[str, float]:
    """The ``train/``, ``val/`` and ``test/`` numbers of a metrics.json."""
    return {
        k: v
        for k, v in values.items()
        if k.startswith(("train/", "val/", "test/")) and isinstance(v, (int, float))
    }
