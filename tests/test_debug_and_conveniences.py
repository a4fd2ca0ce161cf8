"""The template's conveniences: ``debug=fdr|overfit|limit|profiler``, ``callbacks=none`` and the
config tree printed at start (``print_config``)."""

from __future__ import annotations

import json

import pytest

from hydra_app.config_env import CONF_DIR, compose
from tests.conftest import run_cli, tiny_overrides

DEBUG_OPTIONS = sorted(p.stem for p in (CONF_DIR / "debug").glob("*.yaml") if p.stem != "default")
# tiny_overrides' settings that a debug option sets itself, or that callbacks=none leaves out.
DEBUG_KEYS = ("callbacks.", "trainer.max_epochs=")


def overrides_without_callbacks(data_dir, output_dir) -> list[str]:
    return [o for o in tiny_overrides(data_dir, output_dir) if not o.startswith(DEBUG_KEYS)]


def test_the_debug_group_has_the_four_options():
    assert DEBUG_OPTIONS == ["fdr", "limit", "overfit", "profiler"]


@pytest.mark.parametrize("option", DEBUG_OPTIONS)
def test_a_debug_option_is_a_short_run_apart_from_the_real_ones(option):
    cfg = compose([f"debug={option}"], return_hydra_config=True)
    assert cfg.task_name == "debug"
    assert "/debug/runs/" in cfg.hydra.run.dir
    assert cfg.callbacks is None and cfg.logger is None
    assert cfg.trainer.detect_anomaly is True
    assert cfg.hydra.job_logging.root.level == "DEBUG"
    expected = {
        "fdr": {"fast_dev_run": True},
        "overfit": {"overfit_batches": 3, "max_epochs": 20},
        "limit": {"limit_train_batches": 0.02, "max_epochs": 3},
        "profiler": {"max_epochs": 1},
    }[option]
    assert {key: cfg.trainer[key] for key in expected} == expected


def test_debug_profiler_writes_lightnings_profile_into_the_run_dir(tiny_data_dir, tmp_path):
    run_dir = tmp_path / "run"
    result = run_cli(*overrides_without_callbacks(tiny_data_dir, run_dir), "debug=profiler")
    assert result.returncode == 0, result.stderr[-3000:]
    profile = (run_dir / "fit-profile.txt").read_text()
    assert "run_training_epoch" in profile and "Mean duration" in profile
    assert json.loads((run_dir / "metrics.json").read_text())["status"] == "completed"


def test_debug_overfit_drives_the_training_loss_down(tiny_data_dir, tmp_path):
    """20 epochs on the same 3 batches: the loss falls far below a random guess's ln(10)."""
    run_dir = tmp_path / "run"
    result = run_cli(
        *overrides_without_callbacks(tiny_data_dir, run_dir), "debug=overfit", "test=false"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    # ln(10) = 2.30 is the loss of a uniform guess; memorised batches go far below it.
    assert metrics["train/loss"] < 0.5, metrics


def test_callbacks_none_trains_with_lightnings_defaults_and_prints_the_config(
    tiny_data_dir, tmp_path
):
    run_dir = tmp_path / "run"
    result = run_cli(*overrides_without_callbacks(tiny_data_dir, run_dir), "callbacks=none")
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "completed" and "test/acc" in metrics
    assert not (run_dir / "learning_curves.png").exists()  # none of the project's callbacks
    assert not (run_dir / "embeddings").exists()
    # The config tree, first at start: one branch per group, with its YAML.
    assert result.stdout.lstrip().startswith("config\n")
    for branch in ("├── data", "├── model", "├── trainer"):
        assert branch in result.stdout
    assert "_target_: lightning_modules.nets.lenet.LeNet" in result.stdout


def test_print_config_false_prints_no_tree(tiny_data_dir, tmp_path):
    run_dir = tmp_path / "run"
    result = run_cli(
        *overrides_without_callbacks(tiny_data_dir, run_dir), "debug=fdr", "print_config=false"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "├── model" not in result.stdout
    assert json.loads((run_dir / "metrics.json").read_text())["status"] == "completed"
