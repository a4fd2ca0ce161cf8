"""Sweeps with several seeds per setting: statistics per group, merged records, error-bar plots."""

from __future__ import annotations

import csv
import json
import statistics

import pytest

from analysis.seed_groups import describe, group_by_seed, merge_records
from hydra_app.seed_summary import GROUPS_FIGURE, JOBS_CSV, RECORDS_JSON
from hydra_app.sweep_summary import TABLE_CSV, TABLE_MARKDOWN, collect_jobs, write_summary
from tests.conftest import run_cli
from tests.sweep_runs import cli_overrides
from tests.test_sweep_summary import _job, _rows

ACCURACY = {("lenet", 1): 0.90, ("lenet", 2): 0.91, ("lenet", 3): 0.93, ("small", 1): 0.89}


def _confused(rate: float, pair=("Shirt", "T-shirt/top")) -> list[dict]:
    return [{"true": pair[0], "predicted": pair[1], "rate": rate}]


def test_jobs_that_differ_only_by_seed_form_one_group():
    params = [{"model": m, "seed": s} for m, s in ACCURACY]
    [lenet, small] = group_by_seed(params)
    assert (lenet.params, lenet.members, lenet.seeds) == ({"model": "lenet"}, [0, 1, 2], [1, 2, 3])
    assert (small.params, small.members) == ({"model": "small"}, [3])
    assert group_by_seed([{"model": "lenet", "seed": 1}, {"model": "small", "seed": 1}]) is None


def test_statistics_of_a_group():
    stats = describe([0.90, 0.91, 0.93, None, float("nan")])  # failed jobs have no value
    assert stats["n"] == 3 and stats["min"] == 0.90 and stats["max"] == 0.93
    assert stats["mean"] == pytest.approx(0.91333333, abs=1e-8)
    assert stats["std"] == pytest.approx(statistics.stdev([0.90, 0.91, 0.93]), abs=1e-12)
    assert describe([0.5])["std"] is None  # no spread from one seed


def test_records_are_merged_across_seeds():
    merged = merge_records(
        [_confused(0.2) + _confused(0.1, ("Coat", "Pullover")), _confused(0.3), None]
    )
    assert merged == [
        {"true": "Shirt", "predicted": "T-shirt/top", "rate": 0.25, "seeds": 2},
        {"true": "Coat", "predicted": "Pullover", "rate": 0.1, "seeds": 1},
    ]
    assert merge_records([[1.0, 2.0], [3.0, 4.0]]) == [2.0, 3.0]  # per position
    assert merge_records(["a", "a"]) == "a" and merge_records(["a", "b"]) == ["a", "b"]


def test_summary_of_seeded_job_dirs(tmp_path):
    for i, ((model, seed), acc) in enumerate(ACCURACY.items()):
        metrics = {"status": "completed", "test/acc": acc, "test/top_confused": _confused(acc / 4)}
        _job(tmp_path, str(i), [f"model={model}", f"seed={seed}"], metrics)
    jobs = collect_jobs(tmp_path)
    write_summary(tmp_path, jobs, ["test/acc"])

    lenet, small = _rows(tmp_path)
    assert (lenet["model"], lenet["seeds"], lenet["test/acc/n"]) == ("lenet", "1 2 3", "3")
    assert float(lenet["test/acc/mean"]) == pytest.approx(0.91333333, abs=1e-8)
    assert float(lenet["test/acc/std"]) == pytest.approx(0.01527525, abs=1e-8)
    assert (float(lenet["test/acc/min"]), float(lenet["test/acc/max"])) == (0.90, 0.93)
    assert (small["test/acc/n"], small["test/acc/std"]) == ("1", "")
    markdown = (tmp_path / TABLE_MARKDOWN).read_text()
    assert "| lenet | 3 | 0.9133 ± 0.0153 [0.9000, 0.9300] |" in markdown
    with open(tmp_path / JOBS_CSV, newline="") as f:
        assert [r["seed"] for r in csv.DictReader(f)] == ["1", "2", "3", "1"]
    records = json.loads((tmp_path / RECORDS_JSON).read_text())
    assert records[0]["test/top_confused"][0]["rate"] == pytest.approx(0.91333333 / 4, abs=1e-6)
    assert (tmp_path / GROUPS_FIGURE).exists()
    assert not (tmp_path / "sweep_seed.png").exists()


def test_two_seeds_of_two_models_on_tiny_data(tiny_data_dir, tmp_path):
    sweep = tmp_path / "sweep"
    result = run_cli(
        "-m",
        *cli_overrides(tiny_data_dir, tmp_path),
        f"hydra.sweep.dir={sweep}",
        "trainer.max_epochs=1",
        "callbacks.feature_embeddings=null",
        "model=lenet,small",
        "seed=1,2",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    with open(sweep / TABLE_CSV, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["model"], r["seeds"], r["test/acc/n"]) for r in rows] == [
        ("lenet", "1 2", "2"),
        ("small", "1 2", "2"),
    ]
    for row in rows:
        low, high = float(row["test/acc/min"]), float(row["test/acc/max"])
        assert low <= float(row["test/acc/mean"]) <= high
        assert float(row["test/acc/std"]) >= 0
    assert "test/acc" in (sweep / TABLE_MARKDOWN).read_text()
    assert (sweep / GROUPS_FIGURE).exists()
    assert "test/top_confused" in json.loads((sweep / RECORDS_JSON).read_text())[0]
