"""The report's last section: the command, every run and its config, the software, the machine."""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path

from study.document import Link, Section, Table, Text
from study.results import Study

PACKAGES = (
    "torch",
    "torchvision",
    "lightning",
    "torchmetrics",
    "hydra-core",
    "scikit-learn",
    "numpy",
)


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _machine() -> str:
    import torch

    cores = os.cpu_count()
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    processor = platform.processor() or platform.machine()
    return f"{platform.platform()}, {processor}, {cores} CPU cores, {device}"


def how_it_was_made(study: Study, command: str, timings: Mapping[str, float]) -> Section:
    section = Section("How it was made")
    section.add(
        Text(f"Command: {command}"),
        Text(f"Machine: {_machine()}; Python {sys.version.split()[0]}."),
    )
    section.add(Table(["package", "version"], [[p, _version(p)] for p in PACKAGES]))
    rows, per_study = [], {}
    for job in study.jobs:
        result = study.result(job)
        seconds = result.number("wall_time_s")
        per_study[job.study] = per_study.get(job.study, 0.0) + (seconds or 0.0)
        shared = study.dirs[job] != study.directory / job.study / job.name
        rows.append(
            [
                job.label,
                result.state.status,
                " ".join(job.overrides),
                "shared with an identical run" if shared else _fmt_seconds(seconds),
                str(Path(os.path.relpath(study.dirs[job], study.directory))),
            ]
        )
    section.add(
        Table(
            ["run", "status", "overrides of train.py", "fit + test wall time", "run dir"],
            rows,
            caption="Every run of the study; each run dir holds .hydra/config.yaml, "
            "overrides.yaml, metrics.json and the TensorBoard logs",
        )
    )
    for job in study.jobs:
        config = study.dirs[job] / ".hydra" / "config.yaml"
        if config.exists() and study.dirs[job] == study.directory / job.study / job.name:
            section.add(Link(f"config of {job.label}", config))
    parts = {**{f"runs of {s}": v for s, v in per_study.items()}, **timings}
    section.add(
        Table(
            ["part", "wall time"],
            [[name, _fmt_seconds(seconds)] for name, seconds in parts.items()],
        )
    )
    return section


def _fmt_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"
