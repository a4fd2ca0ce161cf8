"""``callbacks.early_stopping``: off by default, follows ``model.monitor``, recorded in metrics."""

from __future__ import annotations

from callbacks.early_stopping import STOPPED_EPOCH_KEY, STOPPED_KEY
from train import train
from training import components


def test_off_by_default(compose_cfg):
    names = {type(c).__name__ for c in components.callbacks(compose_cfg())}
    assert "RecordedEarlyStopping" not in names


def test_it_follows_the_models_monitor_and_mode(compose_cfg):
    cfg = compose_cfg("callbacks.early_stopping.patience=2", "model=vae")
    [stopper] = [
        c for c in components.callbacks(cfg) if type(c).__name__ == "RecordedEarlyStopping"
    ]
    assert (stopper.monitor, stopper.mode, stopper.patience) == ("val/loss", "min", 2)


def test_a_run_that_stops_early_records_it(compose_cfg):
    # No epoch can improve val/acc by a whole 1.0, so the second epoch exhausts a patience of 1.
    cfg = compose_cfg(
        "model=small",
        "trainer.max_epochs=4",
        "callbacks.early_stopping.patience=1",
        "callbacks.early_stopping.min_delta=1.0",
        "callbacks.feature_embeddings=null",
    )
    metrics = train(cfg)
    assert metrics[STOPPED_KEY] is True
    assert metrics[STOPPED_EPOCH_KEY] == 1  # counted from 0: two epochs trained
    assert metrics["epochs"] == 2


def test_a_run_that_goes_the_distance_records_that_it_was_not_stopped(compose_cfg):
    cfg = compose_cfg(
        "model=small", "callbacks.early_stopping.patience=5", "callbacks.feature_embeddings=null"
    )
    metrics = train(cfg)
    assert metrics[STOPPED_KEY] is False and STOPPED_EPOCH_KEY not in metrics
    assert metrics["epochs"] == 2
