"""Epoch metrics: each stage's metrics are exact over the epoch and logged once an epoch."""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest
import torch
from lightning.pytorch.callbacks import Callback

from callbacks.learning_curves import LearningCurves
from lightning_modules.base import ConfiguredModule
from training import components


class BatchLosses(Callback):
    """Each training batch's loss and size, by epoch."""

    def __init__(self) -> None:
        self.batches: dict[int, list[tuple[float, int]]] = defaultdict(list)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.batches[trainer.current_epoch].append((float(outputs["loss"]), len(batch[1])))


@pytest.mark.parametrize("model", ["small", "vae"])
def test_epoch_metrics_are_logged_once_an_epoch_and_cover_every_image(
    compose_cfg, monkeypatch, model
):
    logged = Counter()
    log = ConfiguredModule.log

    def counting_log(self, name, value, *args, **kwargs):
        logged[name] += 1
        return log(self, name, value, *args, **kwargs)

    monkeypatch.setattr(ConfiguredModule, "log", counting_log)
    cfg = compose_cfg(f"model={model}", "trainer.max_epochs=2")
    datamodule = components.datamodule(cfg)
    losses = BatchLosses()
    callbacks = [*components.callbacks(cfg), losses]
    trainer = components.trainer(cfg, callbacks, components.loggers(cfg))
    trainer.fit(components.model(cfg), datamodule=datamodule)

    # 500 training images in batches of 32 (the last one 20): 16 steps an epoch, yet each
    # train metric is logged once an epoch; val runs a sanity check and 2 epochs.
    steps = len(losses.batches[0])
    assert steps == 16
    assert logged["train/loss"] == 2
    assert logged["val/loss"] == 3
    # The epoch value is the mean over images, read by callbacks in the same epoch.
    curves = next(c for c in callbacks if isinstance(c, LearningCurves))
    for epoch, batches in losses.batches.items():
        per_image = sum(loss * n for loss, n in batches) / sum(n for _, n in batches)
        assert curves.history["train/loss"][epoch] == pytest.approx(per_image, rel=1e-5)
    assert not torch.isnan(trainer.callback_metrics["val/loss"])
