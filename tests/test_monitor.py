"""``model.monitor`` alone decides what checkpoints, ``<monitor>_best`` and sweeps rank runs by."""

from __future__ import annotations

import pytest
from hydra.errors import InstantiationException

from train import train
from training import components


def test_monitoring_the_validation_loss_changes_every_consumer(compose_cfg):
    cfg = compose_cfg("model=small", "model.monitor=val/loss", "model.monitor_mode=min")
    assert cfg.callbacks.model_checkpoint.monitor == "val/loss"
    assert cfg.optimized_metric == "val/loss_best"
    assert (cfg.callbacks.early_stopping.monitor, cfg.callbacks.early_stopping.mode) == (
        "val/loss",
        "min",
    )
    metrics = train(cfg)
    assert "val/acc_best" not in metrics
    # The best checkpoint is the epoch of the lowest validation loss, and its score is it.
    assert metrics["best/val/loss"] == metrics["val/loss_best"]
    assert metrics["val/loss_best"] <= metrics["val/loss"]


def test_an_unlogged_monitor_is_refused_naming_the_key(compose_cfg):
    with pytest.raises(
        InstantiationException, match=r"model.monitor='val/nelbo'.*\['val/acc', 'val/loss'\]"
    ):
        components.model(compose_cfg("model.monitor=val/nelbo"))
