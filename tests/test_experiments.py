"""The comparison experiments: one command runs every variant into one sweep dir."""

from __future__ import annotations

import json

import pytest
from hydra.types import RunMode

from hydra_app.config_env import CONF_DIR, compose
from tests.conftest import run_cli, tiny_overrides
from tests.tensorboard_reading import event_tags

EXPERIMENTS = {
    "lenet_vs_small": ("model", "lenet,small"),
    "relu_vs_sigmoid": ("model.activation", "relu,sigmoid"),
}


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment_sweeps_its_comparison(experiment):
    cfg = compose([f"experiment={experiment}"], return_hydra_config=True)
    key, values = EXPERIMENTS[experiment]
    assert cfg.hydra.sweeper.params == {key: values}
    assert cfg.task_name == experiment


# Experiments that are one run each; seed= repeats them.
SINGLE_RUNS = {"best_conv_bn"}


@pytest.mark.parametrize(
    "experiment",
    sorted(p.stem for p in (CONF_DIR / "experiment").glob("*.yaml") if p.stem not in SINGLE_RUNS),
)
def test_every_experiment_is_a_sweep_without_dash_m(experiment):
    cfg = compose([f"experiment={experiment}"], return_hydra_config=True)
    assert cfg.hydra.mode == RunMode.MULTIRUN
    assert cfg.hydra.sweeper.params  # and it has something to sweep


@pytest.mark.parametrize("experiment", sorted(SINGLE_RUNS))
def test_single_run_experiments_run_once_with_the_seed_given(experiment):
    cfg = compose([f"experiment={experiment}", "seed=3"], return_hydra_config=True)
    assert cfg.hydra.mode in (None, RunMode.RUN)
    assert not cfg.hydra.sweeper.get("params")
    assert cfg.seed == 3 and cfg.data.seed == 3


def test_best_conv_bn_trains_a_net_under_100k_parameters_with_augmentation():
    from training import components

    cfg = compose(["experiment=best_conv_bn"])
    net = components.model(cfg).net
    assert sum(p.numel() for p in net.parameters()) <= 100_000
    assert cfg.data.augment is not None and cfg.model.label_smoothing > 0
    assert compose([]).data.augment is None  # off for the classic configs


@pytest.mark.slow
def test_lenet_vs_small_jobs_share_one_sweep_dir(tiny_data_dir, tmp_path):
    # Every job gets its own dir under the sweep dir, so only the log dir is set.
    data_overrides = [
        o for o in tiny_overrides(tiny_data_dir, tmp_path) if not o.startswith("paths.")
    ]
    result = run_cli(
        "experiment=lenet_vs_small",  # a sweep without -m
        *data_overrides,
        f"paths.log_dir={tmp_path}",
        "trainer.max_epochs=1",
        "callbacks.feature_embeddings.num_images=100",
        "callbacks.feature_embeddings.projections.tsne.perplexity=10",
        "callbacks.feature_embeddings.projections.tsne.max_iter=250",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (sweep_dir,) = (tmp_path / "lenet_vs_small" / "multiruns").iterdir()
    jobs = sorted(p.parent.name for p in sweep_dir.glob("*/.hydra"))  # not the sweep's hparams/
    assert jobs == ["0_lenet", "1_small"]
    for job in jobs:
        metrics = json.loads((sweep_dir / job / "metrics.json").read_text())
        assert metrics["status"] == "completed"
        assert "embeddings/tsne/fc" in event_tags(sweep_dir / job / "tensorboard")["images"]
