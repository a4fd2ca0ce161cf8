"""What a run leaves for TensorBoard: one event file, an HParams entry, a Custom Scalars layout."""

from __future__ import annotations

import re

import pytest

from callbacks.custom_scalars import CATEGORY, layout
from hydra_app.config_env import compose
from storage.tensorboard import FINAL_PREFIX, SWEEP_HPARAMS_DIR
from tests.conftest import run_cli, tiny_overrides
from tests.sweep_runs import cli_overrides, job_dirs
from tests.tensorboard_reading import (
    custom_scalars_layout,
    event_files,
    event_tags,
    experiments,
    hparam_columns,
    logged_hparams,
    session_status,
)
from training import components

# This test's overrides that set hyperparameters, after those of tiny_overrides (whose
# hyperparameters are data/val_size, data/batch_size, data/eval_batch_size, trainer/max_epochs).
OVERRIDES = ("model=vae", "model.iw_samples=2", "model.kl_weight=0.5", "optimizer.lr=0.002")
OVERRIDDEN = [
    "data/val_size",
    "data/batch_size",
    "data/eval_batch_size",
    "trainer/max_epochs",
    "model",
    "model/iw_samples",
    "model/kl_weight",
    "optimizer/lr",
]
# Plumbing, paths and switches, by the names a config spells them with.
NOT_HYPERPARAMETERS = re.compile(
    r"(^|/)(_\w+_|data_dir|system_dirs|dataset_class|download|on_device|default_root_dir"
    r"|accelerator|devices|plugins|enable_\w+|log_every_n_steps|use_distributed_sampler)(/|$)"
)
VAE_METRICS = ("loss", "recon", "kl", "nelbo")


@pytest.fixture(scope="module")
def log_dir(tiny_data_dir, tmp_path_factory):
    """The TensorBoard dir of a VAE run through the CLI, with overrides."""
    run_dir = tmp_path_factory.mktemp("cli") / "run"
    result = run_cli(*tiny_overrides(tiny_data_dir, run_dir), *OVERRIDES)
    assert result.returncode == 0, result.stderr[-3000:]
    return run_dir / "tensorboard"


def test_one_event_file_holds_scalars_images_and_hparams(log_dir):
    [events] = event_files(log_dir)  # not one per stage (fit, test) and the HParams entry
    tags = event_tags(events)
    assert {"train/loss", "val/loss", "test/loss", "final/test/loss"} <= set(tags["scalars"])
    assert "images/prior_samples" in tags["images"]
    assert logged_hparams(events)["model/kl_weight"] == pytest.approx(0.5)


def test_hparams_lead_with_the_command_line_overrides(log_dir):
    columns = hparam_columns(log_dir)
    assert list(columns)[: len(OVERRIDDEN)] == OVERRIDDEN
    # TensorBoard lists the marked ones first: the overrides and how the run ended.
    assert [name for name, first in columns.items() if first] == [*OVERRIDDEN, "status"]
    assert logged_hparams(log_dir)["status"] == "completed"
    assert session_status(log_dir) == "STATUS_SUCCESS"
    assert not [name for name in columns if NOT_HYPERPARAMETERS.search(name)]


def test_each_knob_is_logged_once_under_the_name_the_user_sets(tmp_path):
    cfg = compose(
        ["model=vae", "model.activation=tanh", f"paths.output_dir={tmp_path}"],
        return_hydra_config=True,
    )
    hparams = components.hyperparameters(cfg)
    assert list(hparams)[:2] == ["model", "model/activation"]
    assert hparams["model/activation"] == "tanh" and hparams["optimizer"] == "adam"
    # ${model.activation}, ${model.kl_weight}, ${trainer.max_epochs}, ${seed}: the same values.
    for copy in ("model/net/activation", "model/module/kl_weight", "scheduler/T_max", "data/seed"):
        assert copy not in hparams
    assert {"model/kl_weight", "trainer/max_epochs", "seed", "optimizer/lr"} <= set(hparams)
    assert not [name for name in hparams if NOT_HYPERPARAMETERS.search(name)]


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
    charts = layout(components.model(compose_cfg("model=small")))[CATEGORY]
    assert {name: tags for name, (_, tags) in charts.items()} == {
        "loss": ["^train/loss$", "^val/loss$"],
        "acc": ["^train/acc$", "^val/acc$"],
    }


def test_a_sweep_of_two_models_declares_the_columns_of_both(tiny_data_dir, tmp_path):
    sweep_dir = tmp_path / "sweep"
    quick = ("trainer.max_epochs=1", "callbacks.feature_embeddings=null")
    overrides = (*cli_overrides(tiny_data_dir, tmp_path), *quick)
    result = run_cli("-m", "model=lenet,vae", *overrides, f"hydra.sweep.dir={sweep_dir}")
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = [job / "tensorboard" for job in job_dirs(sweep_dir)]
    logged = [event_tags(job)["scalars"] for job in jobs]
    finals = [{tag for tag in tags if tag.startswith(FINAL_PREFIX)} for tags in logged]
    assert "final/test/acc" in finals[0] - finals[1]  # the classifier's
    assert "final/test/nelbo" in finals[1] - finals[0]  # the VAE's
    settings = [set(logged_hparams(job)) for job in jobs]
    assert "model/kl_weight" in settings[1] - settings[0]

    # TensorBoard shows all the runs of a dir with the columns of one experiment summary.
    [(run, experiment)] = experiments(sweep_dir).items()
    assert run == SWEEP_HPARAMS_DIR
    assert {info.name.tag for info in experiment.metric_infos} == finals[0] | finals[1]
    columns = {info.name: info.differs for info in experiment.hparam_infos}
    assert set(columns) == settings[0] | settings[1]
    assert columns["model"] and columns["status"] and not columns["seed"]

    # A job run again alone in the sweep dir declares the sweep's columns anew, not its own.
    again = run_cli(*overrides, "model=vae", f"resume={job_dirs(sweep_dir)[1]}")
    assert again.returncode == 0, again.stderr[-3000:]
    [(run, redeclared)] = experiments(sweep_dir).items()
    assert run == SWEEP_HPARAMS_DIR
    metrics = {info.name.tag for info in redeclared.metric_infos}
    assert metrics == finals[0] | finals[1] | {"final/resumed_at_epoch"}  # the resume's too
    assert len(event_files(sweep_dir / SWEEP_HPARAMS_DIR)) == 1
