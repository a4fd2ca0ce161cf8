"""The accelerator path: data held on the device, mixed precision, compile, no per-step syncs.

Skipped without a CUDA device; run them on a GPU machine with ``make test``.
"""

from __future__ import annotations

import math

import pytest
import torch
from lightning.pytorch.callbacks import Callback

from train import train
from training import components

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


class NoHostSyncInSteps(Callback):
    """Makes any device-to-host synchronisation an error inside training steps.

    Steps where metrics are written to the loggers (every ``log_every_n_steps``) may sync, and
    so may the end-of-step hooks (the divergence check reads the loss every 50 steps).
    """

    def __init__(self) -> None:
        self.checked_steps = 0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_step % trainer.log_every_n_steps:
            torch.cuda.set_sync_debug_mode("error")
            self.checked_steps += 1

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        torch.cuda.set_sync_debug_mode("default")


def test_splits_live_on_the_device_as_uint8_and_batches_are_sliced_there(compose_cfg):
    cfg = compose_cfg("trainer.accelerator=gpu")
    datamodule = components.datamodule(cfg)
    trainer = components.trainer(cfg, callbacks=[], loggers=[])
    datamodule.trainer = trainer
    datamodule.setup("fit")
    for images, targets in datamodule.splits.values():
        assert images.is_cuda and images.dtype == torch.uint8 and targets.is_cuda
    images, targets = next(iter(datamodule.train_dataloader()))
    assert images.is_cuda and images.dtype == torch.uint8 and len(targets) == cfg.data.batch_size
    x, _ = datamodule.on_after_batch_transfer((images, targets), 0)
    assert x.is_cuda and x.dtype == torch.float32


@pytest.mark.parametrize("model", ["small", "vae"])
def test_training_steps_do_not_wait_for_the_device(compose_cfg, model):
    cfg = compose_cfg(f"model={model}", "trainer.accelerator=gpu", "trainer.log_every_n_steps=50")
    guard = NoHostSyncInSteps()
    # First: its checks cover the other callbacks' hooks up to the end of the step.
    trainer = components.trainer(cfg, [guard, *components.callbacks(cfg)], components.loggers(cfg))
    try:
        trainer.fit(components.model(cfg), datamodule=components.datamodule(cfg))
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert guard.checked_steps > 20


@pytest.mark.parametrize("overrides", [("trainer.precision=bf16-mixed",), ("compile=true",)])
def test_mixed_precision_and_compile_train(compose_cfg, overrides):
    metrics = train(compose_cfg("model=small", "trainer.accelerator=gpu", *overrides))
    assert metrics["status"] == "completed"
    assert math.isfinite(metrics["test/loss"]) and metrics["test/acc"] > 0.5
