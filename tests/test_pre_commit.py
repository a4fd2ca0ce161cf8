"""``.pre-commit-config.yaml`` runs the checks of ``make lint``, with the venv's own ruff."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hydra_app.config_env import PROJECT_ROOT

CONFIG = PROJECT_ROOT / ".pre-commit-config.yaml"
PRE_COMMIT = Path(sys.executable).parent / "pre-commit"


def lint_commands() -> list[str]:
    """``make lint``'s commands, as ``ruff <args>`` without the path they check."""
    recipe = (PROJECT_ROOT / "Makefile").read_text().split("\nlint:", 1)[1].split("\n\n", 1)[0]
    return [
        re.sub(r"^.*/ruff (.*) \.$", r"ruff \1", line.strip()) for line in recipe.splitlines()[1:]
    ]


def hook_commands() -> list[str]:
    hooks = [hook for repo in yaml.safe_load(CONFIG.read_text())["repos"] for hook in repo["hooks"]]
    return [re.sub(r"^.*/ruff ", "ruff ", hook["entry"]) for hook in hooks]


def test_the_hooks_are_make_lints_commands():
    assert lint_commands() == ["ruff format --check", "ruff check"]
    assert hook_commands() == lint_commands()


@pytest.fixture
def repo(tmp_path) -> Path:
    """A git repo with the project's pre-commit and ruff settings and its venv."""
    for name in (".pre-commit-config.yaml", "pyproject.toml"):
        shutil.copy(PROJECT_ROOT / name, tmp_path / name)
    (tmp_path / ".venv").symlink_to(PROJECT_ROOT / ".venv")
    (tmp_path / ".gitignore").write_text(".venv\n")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    return tmp_path


def run_hooks(repo: Path) -> subprocess.CompletedProcess:
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    return subprocess.run(
        [str(PRE_COMMIT), "run", "--all-files"],
        cwd=repo,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(repo), "PRE_COMMIT_HOME": str(repo / ".cache")},
        timeout=300,
    )


def test_pre_commit_passes_clean_code_and_stops_a_badly_formatted_file(repo):
    (repo / "clean.py").write_text('"""Clean."""\n\nVALUE = 1\n')
    passed = run_hooks(repo)
    assert passed.returncode == 0, passed.stdout + passed.stderr

    (repo / "messy.py").write_text("import os\nVALUE=[1,\n  2]\n")
    failed = run_hooks(repo)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    formatting, checking = failed.stdout.split("- hook id: ruff-check")
    assert "- hook id: ruff-format" in formatting and "messy.py" in formatting
    assert "F401" in checking and "messy.py" in checking  # `os` imported but unused
