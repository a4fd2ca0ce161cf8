"""Shared fixtures: the real configs composed with ``hydra.compose`` and shrunk to tiny runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hydra_app.config_env import PROJECT_ROOT, compose
from tests.tiny_data import write_idx_dataset

ROOT = PROJECT_ROOT
REAL_DATA_DIR = ROOT / "data"


def tiny_overrides(data_dir: Path, output_dir: Path) -> list[str]:
    """Overrides that turn the default config into a run of a few seconds on tiny data."""
    return [
        "data.dataset_class.path=tests.tiny_data.TinyFashionMNIST",
        f"data.data_dir={data_dir}",
        "data.system_dirs=[]",
        "data.download=false",
        "data.val_size=100",
        "data.batch_size=32",
        "data.eval_batch_size=100",
        "trainer.accelerator=cpu",
        "trainer.max_epochs=2",
        "trainer.log_every_n_steps=1",
        "callbacks.progress_bar.mode=none",
        # Worker processes would cost each tiny run seconds of start-up; test_feature_embeddings
        # runs them.
        "callbacks.feature_embeddings.num_workers=0",
        f"paths.output_dir={output_dir}",
        f"paths.log_dir={output_dir}/logs",
    ]


def compose_tiny(output_dir: Path, data_dir: Path, *overrides: str):
    """The real ``train.yaml`` on tiny data, writing into ``output_dir``, plus ``overrides``."""
    return compose([*tiny_overrides(data_dir, output_dir), *overrides])


@pytest.fixture(scope="session")
def tiny_data_dir(tmp_path_factory) -> Path:
    return write_idx_dataset(tmp_path_factory.mktemp("tiny_data"))


@pytest.fixture
def compose_cfg(tiny_data_dir, tmp_path):
    """``compose_cfg(*overrides)``: :func:`compose_tiny` into ``tmp_path / "run"``."""

    def _compose(*overrides: str, data_dir: Path | None = None):
        return compose_tiny(tmp_path / "run", data_dir or tiny_data_dir, *overrides)

    return _compose


def run_cli(
    *args: str,
    cwd: Path = ROOT,
    timeout: float = 600,
    env: dict[str, str] | None = None,
    script: str = "train.py",
) -> subprocess.CompletedProcess:
    """Run ``python <script> ARGS`` in a subprocess, as a user would; ``env`` adds variables."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "HYDRA_FULL_ERROR": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, str(ROOT / script), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
