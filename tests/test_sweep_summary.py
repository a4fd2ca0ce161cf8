"""The sweep summary: built from job dirs, and written at the end of real multiruns."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from callbacks.image_grids import PRIOR_SAMPLES, final_grid_path
from hydra_app.sweep_summary import (
    SAMPLE_SHEET,
    STATUS_MISSING,
    TABLE_CSV,
    TABLE_MARKDOWN,
    collect_jobs,
    main_metrics,
    swept_keys,
    write_summary,
)
from storage.run_files import DIVERGED
from tests.conftest import run_cli, tiny_overrides


def _job(sweep_dir: Path, name: str, overrides: list[str], metrics: dict | None) -> Path:
    job_dir = sweep_dir / name
    (job_dir / ".hydra").mkdir(parents=True)
    (job_dir / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    if metrics is not None:
        (job_dir / "metrics.json").write_text(json.dumps(metrics))
    return job_dir


def _rows(sweep_dir: Path) -> list[dict[str, str]]:
    with open(sweep_dir / TABLE_CSV, newline="") as f:
        return list(csv.DictReader(f))


def test_summary_of_job_dirs(tmp_path):
    common = ["data.batch_size=32", "model=vae"]
    for i, (kl, lr) in enumerate([(0.5, 0.1), (1, 0.1), (0.5, 0.01), (1, 0.01)]):
        metrics = {
            "status": "completed",
            "test/nelbo": 300 - 10 * kl - lr,
            "test/kl": 5 * kl,
            "val/loss": 1.0,
            "best_checkpoint": "x.ckpt",
        }
        _job(tmp_path, str(i), [*common, f"model.kl_weight={kl}", f"optimizer.lr={lr}"], metrics)
    _job(
        tmp_path,
        "10",
        [*common, "model.kl_weight=4", "optimizer.lr=0.1"],
        {"status": DIVERGED, "error": "TrainingDiverged: non-finite loss at step 3"},
    )
    _job(tmp_path, "5", [*common, "model.kl_weight=2", "optimizer.lr=0.1"], None)

    jobs = collect_jobs(tmp_path)
    assert [job.name for job in jobs] == ["0", "1", "2", "3", "5", "10"]
    assert swept_keys(jobs) == ["model.kl_weight", "optimizer.lr"]
    assert main_metrics(jobs) == ["test/kl", "test/nelbo"]

    write_summary(tmp_path, jobs, main_metrics(jobs))
    rows = _rows(tmp_path)
    assert [(r["job"], r["status"], r["model.kl_weight"]) for r in rows] == [
        ("0", "completed", "0.5"),
        ("1", "completed", "1"),
        ("2", "completed", "0.5"),
        ("3", "completed", "1"),
        ("5", STATUS_MISSING, "2"),
        ("10", DIVERGED, "4"),
    ]
    assert float(rows[1]["test/nelbo"]) == pytest.approx(300 - 10 - 0.1)
    assert rows[5]["test/nelbo"] == "" and "step 3" in rows[5]["error"]
    assert "val/loss" in rows[0]  # the CSV keeps every numeric metric

    markdown = (tmp_path / TABLE_MARKDOWN).read_text().splitlines()
    assert markdown[0] == "| job | status | model.kl_weight | optimizer.lr | test/kl | test/nelbo |"
    assert len(markdown) == 2 + len(jobs)
    assert "| 10 | diverged | 4 | 0.1 |  |  |" in markdown
    assert (tmp_path / "sweep_model_kl_weight.png").exists()
    assert (tmp_path / "sweep_optimizer_lr.png").exists()
    assert not (tmp_path / SAMPLE_SHEET).exists()  # no job drew prior samples


def test_string_parameters_get_a_table_but_no_plot(tmp_path):
    for i, model in enumerate(["lenet", "small"]):
        _job(tmp_path, str(i), [f"model={model}"], {"status": "completed", "val/acc": 0.5 + i / 10})
    jobs = collect_jobs(tmp_path)
    write_summary(tmp_path, jobs, main_metrics(jobs))
    assert [r["model"] for r in _rows(tmp_path)] == ["lenet", "small"]
    assert not list(tmp_path.glob("sweep_*.png"))


def _multirun(tiny_data_dir: Path, sweep_dir: Path, *overrides: str):
    # Each job writes into its own dir under the sweep dir: drop the fixed output dir.
    tiny = [
        o for o in tiny_overrides(tiny_data_dir, sweep_dir) if not o.startswith("paths.output_dir=")
    ]
    return run_cli("-m", *tiny, f"hydra.sweep.dir={sweep_dir}", *overrides)


def test_vae_multirun_writes_the_summary(tiny_data_dir, tmp_path):
    sweep_dir = tmp_path / "sweep"
    result = _multirun(
        tiny_data_dir,
        sweep_dir,
        "model=vae",
        "model.iw_samples=2",
        "trainer.max_epochs=1",
        "model.kl_weight=0.5,2",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = _rows(sweep_dir)
    assert [(r["job"], r["status"], r["model.kl_weight"]) for r in rows] == [
        ("0", "completed", "0.5"),
        ("1", "completed", "2"),
    ]
    assert all(float(r["test/nelbo"]) > 0 for r in rows)
    assert "test/iw_nll" in (sweep_dir / TABLE_MARKDOWN).read_text()
    assert (sweep_dir / "sweep_model_kl_weight.png").exists()
    assert (sweep_dir / SAMPLE_SHEET).exists()
    for job in ("0", "1"):
        assert final_grid_path(sweep_dir / job, PRIOR_SAMPLES).exists()


def test_a_diverged_job_does_not_stop_the_sweep(tiny_data_dir, tmp_path):
    sweep_dir = tmp_path / "sweep"
    result = _multirun(
        tiny_data_dir, sweep_dir, "model=small", "trainer.max_epochs=1", "optimizer.lr=1e12,0.05"
    )
    assert result.returncode == 1, result.stderr[-3000:]  # after all jobs and the summary
    rows = _rows(sweep_dir)
    assert [(r["job"], r["status"], r["optimizer.lr"]) for r in rows] == [
        ("0", DIVERGED, "1000000000000.0"),
        ("1", "completed", "0.05"),
    ]
    assert "non-finite loss" in rows[0]["error"]
    assert float(rows[1]["test/acc"]) > 0
    assert not (sweep_dir / SAMPLE_SHEET).exists()  # classifiers draw no samples
