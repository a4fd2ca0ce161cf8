"""What a run leaves for TensorBoard: its Custom Scalars layout."""

from __future__ import annotations

import re

import pytest

from callbacks.custom_scalars import CATEGORY, layout
from runs import build
from tests.conftest import run_cli, tiny_overrides
from tests.tensorboard_reading import custom_scalars_layout, event_tags

OVERRIDES = ("model=vae", "model.iw_samples=2", "model.kl_weight=0.5", "optimizer.lr=0.002")
VAE_METRICS = ("loss", "recon", "kl", "nelbo")


@pytest.fixture(scope="module")
def log_dir(tiny_data_dir, tmp_path_factory):
    """The TensorBoard dir of a VAE run through the CLI, with overrides."""
    run_dir = tmp_path_factory.mktemp("cli") / "run"
    result = run_cli(*tiny_overrides(tiny_data_dir, run_dir), *OVERRIDES)
    assert result.returncode == 0, result.stderr[-3000:]
    return run_dir / "tensorboard"


def test_custom_scalars_put_train_and_val_of_each_metric_on_one_chart(log_dir):
    charts = custom_scalars_layout(log_dir)[CATEGORY]
    assert list(charts) == list(VAE_METRICS)
    scalars = event_tags(log_dir)["scalars"]
    for name, tags in charts.items():
        # Each regex picks exactly the one logged curve (not val/loss_best).
        assert [[tag for tag in scalars if re.search(regex, tag)] for regex in tags] == [
            [f"train/{name}"],
            [f"val/{name}"],
        ]


def test_classifier_charts_are_loss_and_accuracy(compose_cfg):
    charts = layout(build.model(compose_cfg("model=small")))[CATEGORY]
    assert {name: tags for name, (_, tags) in charts.items()} == {
        "loss": ["^train/loss$", "^val/loss$"],
        "acc": ["^train/acc$", "^val/acc$"],
    }
