"""Several optimizer steps per Lightning training step train exactly what one step per
training step trains: the same batches, augmentation draws, optimizer and scheduler steps."""

from __future__ import annotations

import pytest
import torch

from storage.tensorboard import read_scalars
from tests.conftest import compose_tiny

# The tiny data's 500 training images make 16 batches of 32: 4 divides them, 3 leaves a
# last item of one batch.
STEPS = (3, 4)
# What each model's run exercises besides plain SGD steps: augmentation draws, clipping, the
# VAE's sampling noise (the global RNG) and its KL warm-up over the epoch's optimizer steps.
CASES = {
    "lenet": ("model=lenet", "data/augment=standard", "trainer.gradient_clip_val=0.05"),
    "vae": ("model=vae", "model.kl_warmup_epochs=1", "trainer.gradient_clip_val=5"),
}


def _fit(tiny_data_dir, out_dir, steps: int, overrides: tuple[str, ...]) -> dict:
    """What fitting 2 epochs leaves: weights, optimizer and scheduler state, logged numbers."""
    from training import steps as run_steps

    cfg = compose_tiny(
        out_dir,
        tiny_data_dir,
        *overrides,
        f"steps_per_execution={steps}",
        "test=false",
        "callbacks.feature_embeddings=null",
    )
    run = run_steps.build(cfg)
    run.trainer.fit(run.model, datamodule=run.datamodule)
    scheduler = run.trainer.lr_scheduler_configs[0].scheduler
    return {
        "weights": run.model.state_dict(),
        "optimizer": run.trainer.optimizers[0].state_dict()["state"],
        "scheduler": scheduler.state_dict(),
        "global_step": run.trainer.global_step,
        "metrics": {k: float(v) for k, v in run.trainer.callback_metrics.items()},
        # Per optimizer step (gradient norms) and per epoch (learning rate, losses).
        "scalars": read_scalars(out_dir / "tensorboard"),
    }


def _assert_identical(expected, actual, path: str = "") -> None:
    if isinstance(expected, dict):
        assert expected.keys() == actual.keys(), path
        for key in expected:
            _assert_identical(expected[key], actual[key], f"{path}/{key}")
    elif isinstance(expected, torch.Tensor):
        assert torch.equal(expected, actual), f"{path} differs"  # bit for bit
    elif isinstance(expected, list) and expected and isinstance(expected[0], tuple):
        assert [step for step, _ in expected] == [step for step, _ in actual], path
        assert [value for _, value in expected] == [value for _, value in actual], path
    else:
        assert expected == actual, path


@pytest.mark.parametrize("model", sorted(CASES))
def test_several_steps_per_execution_train_bit_for_bit_what_one_step_does(
    model, tiny_data_dir, tmp_path
):
    one = _fit(tiny_data_dir, tmp_path / "k1", 1, CASES[model])
    assert one["global_step"] == 2 * 16
    for steps in STEPS:
        several = _fit(tiny_data_dir, tmp_path / f"k{steps}", steps, CASES[model])
        # Wall times differ between runs; everything else must not.
        _assert_identical(one, several, f"steps_per_execution={steps}")


def test_grouped_batches_are_the_same_batches_in_the_same_order():
    from lightning_modules.data.batches import BatchIndices

    one, three = (BatchIndices(100, 8, shuffle=True, seed=3, steps=k) for k in (1, 3))
    for sampler in (one, three):
        sampler.set_epoch(2)
    items = list(three)
    assert [len(item) for item in items] == [3, 3, 3, 3, 1]  # 13 batches of up to 8
    assert len(three) == len(items) and three.num_batches == len(one) == 13
    singles = list(one)
    flat = [batch for item in items for batch in item]
    assert all(torch.equal(a, b) for a, b in zip(singles, flat, strict=True))
