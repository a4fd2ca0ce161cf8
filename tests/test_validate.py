"""Config validation: each ranged setting checked before data or model; key, value and range."""

from __future__ import annotations

import pytest

from tests.conftest import run_cli, tiny_overrides
from training.validate import ConfigError, check_config, problems

# (override, key in the message, allowed range in the message)
INVALID = [
    ("optimizer.lr=0", "optimizer.lr=0", "> 0"),
    ("optimizer.lr=-0.1", "optimizer.lr=-0.1", "> 0"),
    ("optimizer.momentum=1.0", "optimizer.momentum=1.0", "in [0, 1)"),
    ("optimizer.momentum=-0.5", "optimizer.momentum=-0.5", "in [0, 1)"),
    ("optimizer.weight_decay=-1e-4", "optimizer.weight_decay=-0.0001", ">= 0"),
    ("optimizer=adam optimizer.betas=[0.9,1.5]", "optimizer.betas[1]=1.5", "in [0, 1)"),
    ("+model.kl_weight=-1", "model.kl_weight=-1", ">= 0"),
    ("+model.latent_dim=0", "model.latent_dim=0", "an integer >= 1"),
    ("+model.latent_dim=2.5", "model.latent_dim=2.5", "an integer >= 1"),
    ("model=vae model.gaussian_scale=0", "model.gaussian_scale=0", "> 0"),
    ("model=vae model.iw_samples=0", "model.iw_samples=0", "an integer >= 1"),
    ("model=vae model.kl_warmup_epochs=-1", "model.kl_warmup_epochs=-1", ">= 0"),
    ("model.monitor_mode=up", "model.monitor_mode='up'", "['max', 'min']"),
    ("data.batch_size=0", "data.batch_size=0", "an integer >= 1"),
    ("data.batch_size=abc", "data.batch_size='abc'", "an integer >= 1"),
    ("data.eval_batch_size=-5", "data.eval_batch_size=-5", "an integer >= 1 (or null)"),
    ("trainer.max_epochs=0", "trainer.max_epochs=0", "an integer >= 1"),
    ("scheduler=step scheduler.step_size=0", "scheduler.step_size=0", "an integer >= 1"),
    ("seed=-1", "seed=-1", "in [0, 4294967295]"),
    ("model.activation=relu6", "model.activation='relu6'", "['relu', 'sigmoid', 'tanh']"),
    ("model.pooling=median", "model.pooling='median'", "['avg', 'max']"),
    ("+model.likelihood=poisson", "model.likelihood='poisson'", "['bernoulli', 'gaussian']"),
    ("model.net.channels=[6,0]", "model.net.channels[1]=0", "an integer >= 1"),
    ("trainer.gradient_clip_val=-1", "trainer.gradient_clip_val=-1", ">= 0 (or null)"),
    ("trainer.gradient_clip_val=abc", "trainer.gradient_clip_val='abc'", ">= 0 (or null)"),
    (
        "trainer.gradient_clip_algorithm=l2",
        "trainer.gradient_clip_algorithm='l2'",
        "one of ['norm', 'value'] (or null)",
    ),
    (
        "callbacks.progress_bar.mode=fancy",
        "callbacks.progress_bar.mode='fancy'",
        "['auto', 'none', 'rich']",
    ),
    ("steps_per_execution=0", "steps_per_execution=0", "an integer >= 1"),
    (
        "steps_per_execution=4 +trainer.accumulate_grad_batches=2",
        "steps_per_execution=4",
        "cannot be combined with trainer.accumulate_grad_batches",
    ),
    (
        "data/augment=standard data.augment.erase_scale=[0.5,0.1]",
        "data.augment.erase_scale=[0.5, 0.1]",
        "low <= high",
    ),
]
# Numbers whose override reads as the message names them: the callbacks' settings (checked
# here, not in their constructors), label smoothing and the training batches' augmentation.
SAME_AS_TYPED = {
    "callbacks.early_stopping.patience=0": ">= 1",
    "callbacks.early_stopping.min_delta=-1": ">= 0",
    "callbacks.feature_embeddings.num_images=50": "an integer >= 100",
    "callbacks.feature_embeddings.num_workers=-1": ">= 0 (or null)",
    "callbacks.confusion_matrix.top_k=0": ">= 1",
    "callbacks.gradient_norms.every_n_steps=0": ">= 1",
    "callbacks.divergence_guard.check_every_n_steps=0": ">= 1 (or null)",
    "callbacks.image_grids.every_n_epochs=0": ">= 1",
    "callbacks.image_grids.interpolation_steps=1": "an integer >= 2",
    "model.label_smoothing=1": "in [0, 1)",
    "data/augment=standard data.augment.flip_p=1.5": "in [0, 1]",
    "data/augment=standard data.augment.crop_padding=-2": ">= 0",
    "data/augment=standard data.augment.erase_ratio=[3]": "a list of 2 values",
}
INVALID += [(typed, typed.split()[-1], allowed) for typed, allowed in SAME_AS_TYPED.items()]


@pytest.mark.parametrize(("override", "key", "allowed"), INVALID, ids=[i[0] for i in INVALID])
def test_each_invalid_setting_is_named_with_its_range(compose_cfg, override, key, allowed):
    cfg = compose_cfg(*override.split())
    named = [line for line in problems(cfg) if line.startswith(f"{key}:")]
    assert len(named) == 1 and allowed in named[0], problems(cfg)
    with pytest.raises(ConfigError, match="Invalid config"):
        check_config(cfg)


@pytest.mark.parametrize(
    "overrides",
    [
        [],
        ["model=small"],
        ["optimizer=adam", "scheduler=step"],
        ["optimizer=adamw", "scheduler=none"],
        ["+model.kl_weight=0", "+model.latent_dim=2", "+model.likelihood=gaussian"],
        ["optimizer.momentum=0", "data.val_size=1", "seed=0"],
        ["trainer.gradient_clip_val=0.5", "trainer.gradient_clip_algorithm=value"],
        ["trainer.gradient_clip_val=0", "trainer.gradient_clip_algorithm=norm"],
        ["steps_per_execution=8", "trainer.gradient_clip_val=1"],
    ],
)
def test_valid_configs_pass(compose_cfg, overrides):
    assert problems(compose_cfg(*overrides)) == []


def test_gradient_clip_algorithms_are_lightnings():
    from lightning.pytorch.utilities import GradClipAlgorithmType

    from training.validate import GRADIENT_CLIP_ALGORITHMS

    assert sorted(GRADIENT_CLIP_ALGORITHMS) == sorted(a.value for a in GradClipAlgorithmType)


def test_cli_lists_every_bad_setting_before_reading_data(tmp_path):
    empty_data_dir = tmp_path / "no_data"  # reading it would fail with a DatasetError
    run_dir = tmp_path / "run"
    result = run_cli(
        *tiny_overrides(empty_data_dir, run_dir),
        f"hydra.run.dir={run_dir}",
        "optimizer.lr=-1",
        "optimizer.momentum=1",
        "data.batch_size=0",
        "trainer.max_epochs=0",
    )
    assert result.returncode != 0
    for expected in (
        "optimizer.lr=-1: must be a number > 0",
        "optimizer.momentum=1: must be a number in [0, 1)",
        "data.batch_size=0: must be an integer >= 1",
        "trainer.max_epochs=0: must be an integer >= 1",
    ):
        assert expected in result.stderr
    assert "DatasetError" not in result.stderr
    assert not empty_data_dir.exists()
    assert not (run_dir / "checkpoints").exists() and not (run_dir / "tensorboard").exists()
    assert '"status": "failed"' in (run_dir / "metrics.json").read_text()


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("optimizer=sgdd", ["Could not find 'optimizer/sgdd'", "Available options", "adam", "sgd"]),
        (
            "trainer.max_epoch=3",
            ["Could not override 'trainer.max_epoch'", "Key 'max_epoch' is not in struct"],
        ),
    ],
)
def test_hydra_rejects_unknown_options_and_misspelled_keys(tmp_path, override, expected):
    result = run_cli(f"hydra.run.dir={tmp_path}/run", override)
    assert result.returncode != 0
    for text in expected:
        assert text in result.stderr
