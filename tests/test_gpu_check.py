"""bench/gpu_check.sh, the one call that checks and times the GPU path, runs end to end:
its dry run takes the same steps on the CPU."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT


@pytest.mark.slow
@pytest.mark.real_data
def test_the_gpu_check_runs_its_steps_on_the_cpu(tmp_path):
    env = {**os.environ, "RESULTS": str(tmp_path), "STEPS": "4", "PYTHON": sys.executable}
    done = subprocess.run(
        ["bash", str(ROOT / "bench" / "gpu_check.sh"), "--dry-run"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    # Skipped without a GPU, but collected and run by the script.
    tests = (tmp_path / "tests.txt").read_text()
    assert re.search(r"\d+ (passed|skipped)", tests) and "failed" not in tests
    timed = {
        part: {
            row["contender"]
            for row in json.loads((tmp_path / part / "train_speed_cpu.json").read_text())
        }
        for part in ("steps", "precision")
    }
    assert timed == {
        "steps": {"floor", "project", "project steps_per_execution=4"},
        "precision": {"floor", "project", "project trainer.precision=bf16-mixed"},
    }
    for part in timed:
        assert "| lenet |" in (tmp_path / part / "train_speed_cpu.md").read_text()
