"""End-to-end runs on tiny data: in-process through ``train(cfg)`` and through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import run_cli, tiny_overrides
from tests.sweep_runs import cli_overrides
from tests.tensorboard_reading import event_tags, hparams_plugin, logged_hparams, scalars
from train import train

CURVE_TAGS = {"train/loss", "train/acc", "val/loss", "val/acc"}


def test_train_writes_metrics_and_artifacts(compose_cfg, tmp_path):
    cfg = compose_cfg("model=small")
    metrics = train(cfg)
    run_dir = Path(cfg.paths.output_dir)
    on_disk = json.loads((run_dir / "metrics.json").read_text())
    assert on_disk == metrics
    assert on_disk["status"] == "completed"
    assert on_disk["epochs"] == 2 and on_disk["num_params"] == 11_930
    assert on_disk["test/acc"] > 0.5  # the tiny classes are easy to learn
    assert on_disk["val/acc_best"] == on_disk["best/val/acc"]
    assert Path(on_disk["best_checkpoint"]).exists()
    assert (run_dir / "checkpoints" / "last.ckpt").exists()
    assert "net.conv.0" in (run_dir / "architecture.txt").read_text()


def test_same_seed_gives_the_same_metrics(compose_cfg, tmp_path):
    def run(seed: int, name: str) -> dict:
        cfg = compose_cfg(f"seed={seed}", f"paths.output_dir={tmp_path / name}")
        metrics = train(cfg)
        return {k: v for k, v in metrics.items() if k.startswith(("train/", "val/", "test/"))}

    first, second, other = run(7, "a"), run(7, "b"), run(8, "c")
    assert first == second
    assert first != other


def test_cli_run_logs_curves_to_tensorboard(tiny_data_dir, tmp_path):
    run_dir = tmp_path / "cli_run"
    result = run_cli(*tiny_overrides(tiny_data_dir, run_dir), "trainer.max_epochs=3")
    assert result.returncode == 0, result.stderr[-3000:]

    logged = {
        tag: [value for _, value in points]
        for tag, points in scalars(run_dir / "tensorboard").items()
    }
    assert CURVE_TAGS <= set(logged)
    assert all(len(logged[tag]) == 3 for tag in CURVE_TAGS)  # one point per epoch
    assert {"test/acc", "test/loss"} <= set(logged)
    assert logged["train/loss"][-1] < logged["train/loss"][0]

    with Image.open(run_dir / "learning_curves.png") as png:
        assert png.width > 400 and png.height > 200
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "completed" and 0 <= metrics["test/acc"] <= 1
    assert "epoch 3/3" in (result.stdout + result.stderr)


@pytest.fixture(scope="module")
def short_cli_run(tiny_data_dir, tmp_path_factory):
    """One epoch through the CLI in a run dir of Hydra's; ``(result, run dir)``."""
    log_dir = tmp_path_factory.mktemp("short_cli_run")
    result = run_cli(
        *cli_overrides(tiny_data_dir, log_dir),
        "trainer.max_epochs=1",
        "callbacks.feature_embeddings=null",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    [run_dir] = (log_dir / "logs" / "train" / "runs").iterdir()
    return result, run_dir


def test_each_lightning_line_is_printed_once_and_logged(short_cli_run):
    result, run_dir = short_cli_run
    line = "GPU available: "  # Lightning's Trainer says so at every start
    assert (result.stdout + result.stderr).count(line) == 1
    assert (run_dir / "train.log").read_text().count(line) == 1


def test_lightnings_litlogger_tip_is_not_shown(short_cli_run):
    # Lightning's other lines still are (test_each_lightning_line_is_printed_once_and_logged).
    result, run_dir = short_cli_run
    assert "litlogger" not in result.stdout + result.stderr
    assert "litlogger" not in (run_dir / "train.log").read_text()


def test_lightnings_pytree_deprecation_warning_is_not_shown(short_cli_run):
    # pytest's filterwarnings would hide it in-process; the CLI's stderr shows what a user sees.
    result, _ = short_cli_run
    assert "LeafSpec" not in result.stderr


def test_hparams_dashboard_holds_the_settings_and_final_metrics(compose_cfg):
    cfg = compose_cfg("optimizer.momentum=0.7", "tags=[baseline,sgd]")
    metrics = train(cfg)
    log_dir = Path(cfg.paths.output_dir) / "tensorboard"
    hparams = logged_hparams(log_dir)
    assert hparams["optimizer/momentum"] == pytest.approx(0.7)
    assert hparams["model/activation"] == "relu"
    # The run's tags: one HParams column to filter on, and a list in metrics.json.
    assert hparams["tags"] == "baseline, sgd" and metrics["tags"] == ["baseline", "sgd"]
    experiment = hparams_plugin(log_dir)["_hparams_/experiment"].experiment
    metric_tags = {m.name.tag for m in experiment.metric_infos}
    assert {"final/test/acc", "final/val/acc_best"} <= metric_tags
    assert "hp_metric" not in event_tags(log_dir)["scalars"]


def test_failed_run_records_its_status(compose_cfg):
    cfg = compose_cfg("data.val_size=100000")
    with pytest.raises(ValueError, match=r"data\.val_size"):
        train(cfg)
    metrics = json.loads((Path(cfg.paths.output_dir) / "metrics.json").read_text())
    assert metrics["status"] == "failed" and "data.val_size" in metrics["error"]
    assert metrics["tags"] == []  # kept in every state of the record


def test_mixed_precision_is_a_plain_override(compose_cfg):
    # bf16 autocast runs on the CPU too (slower there: bench/README.md).
    metrics = train(compose_cfg("model=small", "trainer.precision=bf16-mixed"))
    assert metrics["status"] == "completed" and metrics["test/acc"] > 0.5
