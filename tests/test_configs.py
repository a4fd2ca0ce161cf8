"""Every config option composes and builds; bad options fail fast with Hydra's message."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hydra.utils import instantiate

from hydra_app.config_env import CONF_DIR, compose
from tests.conftest import ROOT, run_cli
from training import components


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (Path(CONF_DIR) / group).glob("*.yaml"))


def compose_defaults(tmp_path, *overrides: str):
    """The config as a user gets it (not shrunk to tiny data)."""
    return compose([*overrides, f"paths.output_dir={tmp_path}"])


@pytest.mark.parametrize("model", options("model"))
@pytest.mark.parametrize("optimizer", options("optimizer"))
def test_model_and_optimizer_options_build(compose_cfg, model, optimizer):
    cfg = compose_cfg(f"model={model}", f"optimizer={optimizer}")
    module = components.model(cfg)
    optimizers = module.configure_optimizers()
    optimizer_obj = optimizers["optimizer"] if isinstance(optimizers, dict) else optimizers
    assert type(optimizer_obj).__name__.lower() == optimizer
    assert sum(p.numel() for p in module.parameters()) > 0


@pytest.mark.parametrize("scheduler", options("scheduler"))
def test_scheduler_options_build(compose_cfg, scheduler):
    cfg = compose_cfg(f"scheduler={scheduler}")
    configured = components.model(cfg).configure_optimizers()
    if scheduler == "none":
        assert not isinstance(configured, dict)
    else:
        assert type(configured["lr_scheduler"]["scheduler"]).__name__.lower().startswith(scheduler)


@pytest.mark.parametrize(
    "data, dataset", [("fashion_mnist", "FashionMNIST"), ("mnist", "MNIST"), ("kmnist", "KMNIST")]
)
def test_data_options_compose(tmp_path, data, dataset):
    cfg = compose_defaults(tmp_path, f"data={data}")
    dm = instantiate(cfg.data, _convert_="partial")
    assert dm.dataset_class.__name__ == dataset
    assert len(dm.class_names) == 10
    assert dm.normalize is True and 0 < dm.mean < 1


@pytest.mark.parametrize("trainer", options("trainer"))
def test_trainer_options_compose(tmp_path, trainer):
    cfg = compose_defaults(tmp_path, f"trainer={trainer}")
    accelerators = {"auto": "auto", "cpu": "cpu", "gpu": "gpu", "ddp": "gpu", "ddp_cpu": "cpu"}
    assert cfg.trainer.accelerator == accelerators[trainer]
    # The data module shards every split by rank; Lightning's sampler must not shard it again.
    assert cfg.trainer.use_distributed_sampler is False


def test_callbacks_and_loggers_build(compose_cfg):
    cfg = compose_cfg()
    names = {type(c).__name__ for c in components.callbacks(cfg)}
    assert {"ModelCheckpoint", "LearningCurves", "CustomScalars", "ArchitectureSummary"} <= names
    assert [type(lg).__name__ for lg in components.loggers(cfg)] == ["RunTensorBoardLogger"]


def test_logger_none_also_drops_what_needs_a_logger(compose_cfg):
    cfg = compose_cfg("logger=none")
    assert components.loggers(cfg) == []
    names = {type(c).__name__ for c in components.callbacks(cfg)}
    assert "LearningRateMonitor" not in names and "ModelCheckpoint" in names


def test_momentum_is_an_ordinary_override(compose_cfg):
    cfg = compose_cfg("optimizer=sgd", "optimizer.momentum=0.5", "optimizer.nesterov=true")
    opt = components.model(cfg).configure_optimizers()["optimizer"]
    assert opt.defaults["momentum"] == 0.5 and opt.defaults["nesterov"] is True


def test_help_lists_groups():
    result = run_cli("--help")
    assert result.returncode == 0
    for group in (
        "model: conv_bn, lenet, small, vae",
        "optimizer: adam, adamw, sgd",
        "data: fashion_mnist",
    ):
        assert group in result.stdout


def test_entry_points_import_without_torch():
    # Keeps --help and config errors instant, and the analysis fork server (which imports the
    # entry point once) free of torch.
    entry_points = ["train", "eval", "predict", "export", "report"]
    probe = (
        "import importlib, sys\n"
        f"for name in {entry_points!r}: importlib.import_module(name)\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'lightning', 'sklearn'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "override, message",
    [
        ("model=nope", "Could not find 'model/nope'"),
        ("optimizer.momentun=0.9", "momentun"),
        ("trainer.max_epochs=[", "no viable alternative"),
    ],
)
def test_bad_overrides_fail_with_hydra_message(override, message):
    result = run_cli(override)
    assert result.returncode != 0
    assert message in result.stderr


@pytest.mark.parametrize(
    "overrides, hint",
    [
        pytest.param(
            ["-m", "model.kl_weight=0.5,2"],
            "model.kl_weight is a setting of model=vae, not of model=lenet: add model=vae",
            id="default_model",
        ),
        pytest.param(
            ["model=vae", "model.pooling=avg"],
            "model.pooling is a setting of model=conv_bn, model=lenet or model=small, not of "
            "model=vae: use model=conv_bn, model=lenet or model=small",
            id="chosen_model",
        ),
        pytest.param(
            ["scheduler=none", "scheduler.T_max=3"],
            "scheduler.T_max is a setting of scheduler=cosine, not of scheduler=none",
            id="scheduler",
        ),
    ],
)
def test_a_key_of_another_group_option_names_that_option(overrides, hint):
    # Import times on stderr: the hint must not cost a torch import.
    result = run_cli(*overrides, env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert result.returncode != 0
    assert hint in result.stdout + result.stderr
    assert not any(line.endswith("| torch") for line in result.stderr.splitlines())


def test_a_key_no_option_has_keeps_hydras_message():
    result = run_cli("model.no_such_knob=1")
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "Key 'no_such_knob' is not in struct" in output
    assert "is a setting of" not in output


def test_fast_dev_run_and_gradient_clipping_need_no_plus(compose_cfg):
    cfg = compose_cfg("trainer.fast_dev_run=true", "trainer.gradient_clip_val=1.0")
    trainer = components.trainer(cfg, [], [])
    assert trainer.fast_dev_run is True
    assert trainer.gradient_clip_val == 1.0


def test_compile_option_compiles_the_net_in_place(compose_cfg):
    plain = components.model(compose_cfg()).net
    compiled = components.model(compose_cfg("compile=true")).net
    assert plain._compiled_call_impl is None and compiled._compiled_call_impl is not None
    assert compiled.state_dict().keys() == plain.state_dict().keys()
