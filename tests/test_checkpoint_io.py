"""Checkpoint files: atomic saves, weights-only loads, and the training state a resume needs."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from callbacks.rng_state import RNGState
from storage.checkpoint_io import AtomicCheckpointIO, CheckpointError
from storage.run_files import atomic_writer, partial_files


def _draws() -> tuple:
    return torch.rand(3).tolist(), np.random.rand(3).tolist(), [random.random() for _ in range(3)]


def test_save_and_weights_only_load_round_trip(tmp_path):
    io, path = AtomicCheckpointIO(), tmp_path / "ckpt" / "last.ckpt"
    io.save_checkpoint({"state_dict": {"w": torch.arange(4.0)}, "epoch": 3}, path)
    loaded = io.load_checkpoint(path)
    assert loaded["epoch"] == 3 and torch.equal(loaded["state_dict"]["w"], torch.arange(4.0))
    assert partial_files(path) == []


def test_interrupted_save_keeps_the_previous_file(tmp_path):
    path = tmp_path / "last.ckpt"
    AtomicCheckpointIO().save_checkpoint({"epoch": 1}, path)
    with pytest.raises(KeyboardInterrupt), atomic_writer(path) as f:
        f.write(b"half a checkpoint")
        raise KeyboardInterrupt
    assert AtomicCheckpointIO().load_checkpoint(path)["epoch"] == 1
    assert partial_files(path) == []


def test_save_removes_what_a_killed_save_left(tmp_path):
    path = tmp_path / "last.ckpt"
    stale = tmp_path / ".last.ckpt.abc123.part"
    stale.write_bytes(b"half a checkpoint")
    AtomicCheckpointIO().save_checkpoint({"epoch": 2}, path)
    assert not stale.exists() and AtomicCheckpointIO().load_checkpoint(path)["epoch"] == 2


class _RunsCode:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):  # unpickling it would create the marker file
        return (open, (self.marker, "w"))


def test_checkpoint_with_code_is_refused_not_run(tmp_path):
    path, marker = tmp_path / "foreign.ckpt", tmp_path / "code_ran"
    torch.save({"state_dict": {}, "payload": _RunsCode(marker)}, path)
    with pytest.raises(CheckpointError, match="weights-only"):
        AtomicCheckpointIO().load_checkpoint(path)
    assert not marker.exists()


def test_truncated_checkpoint_error_names_the_file_and_the_alternatives(tmp_path):
    io = AtomicCheckpointIO()
    io.save_checkpoint({"epoch": 0}, tmp_path / "epoch_000.ckpt")
    io.save_checkpoint({"epoch": 1}, tmp_path / "last.ckpt")
    data = (tmp_path / "last.ckpt").read_bytes()
    (tmp_path / "last.ckpt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"last\.ckpt.*") as err:
        io.load_checkpoint(tmp_path / "last.ckpt")
    assert "epoch_000.ckpt" in str(err.value) and "ckpt_path=" in str(err.value)


def test_rng_states_survive_a_weights_only_checkpoint(tmp_path):
    torch.manual_seed(1), np.random.seed(1), random.seed(1)
    saved = RNGState().state_dict()
    expected = _draws()
    AtomicCheckpointIO().save_checkpoint({"rng": saved}, tmp_path / "c.ckpt")
    restored = RNGState()
    restored.load_state_dict(AtomicCheckpointIO().load_checkpoint(tmp_path / "c.ckpt")["rng"])
    _draws()  # a resumed run draws other numbers before training starts (sanity check, setup)
    restored.on_train_start(trainer=None, pl_module=None)
    assert _draws() == expected


def test_classifier_checkpoint_keeps_the_best_validation_accuracy(compose_cfg):
    from training import components

    model = components.model(compose_cfg())
    model.monitor_best(torch.tensor(0.8))
    fresh = components.model(compose_cfg())
    fresh.load_state_dict(model.state_dict())
    assert fresh.monitor_best.max_value.item() == pytest.approx(0.8)


def test_resume_with_other_settings_is_reported(caplog):
    from types import SimpleNamespace

    from lightning.pytorch.trainer.states import TrainerFn

    from callbacks.run_settings import RunSettings

    original = RunSettings({"optimizer/lr": 0.05, "seed": 42})
    checkpoint = {"callbacks": {original.state_key: original.state_dict()}}
    fitting = SimpleNamespace(state=SimpleNamespace(fn=TrainerFn.FITTING))
    RunSettings({"optimizer/lr": 0.05, "seed": 42}).on_load_checkpoint(fitting, None, checkpoint)
    assert "differ" not in caplog.text
    RunSettings({"optimizer/lr": 0.1, "seed": 42}).on_load_checkpoint(fitting, None, checkpoint)
    assert "optimizer.lr=0.05  (this run: 0.1)" in caplog.text and "seed" not in caplog.text


def test_a_changed_callback_setting_is_recorded():
    from types import SimpleNamespace

    from lightning.pytorch.trainer.states import TrainerFn

    from callbacks.run_settings import RunSettings

    hparams = {"optimizer/lr": 0.05}
    patience = "callbacks/early_stopping/patience"
    original = RunSettings(hparams, {patience: None, "callbacks/rng_state/_target_": "R"})
    state = original.state_dict()
    fitting = SimpleNamespace(state=SimpleNamespace(fn=TrainerFn.FITTING))
    resumed = RunSettings(hparams, {patience: 5, "callbacks/rng_state/_target_": "R"})
    resumed.on_load_checkpoint(fitting, None, {"callbacks": {original.state_key: state}})
    assert resumed.record()["changed_settings"] == {
        "callbacks.early_stopping.patience": {"before": None, "after": 5}
    }
    # A checkpoint that stored no callback settings is compared by its hyperparameters alone.
    older = {"callbacks": {original.state_key: {"settings": hparams}}}
    resumed.on_load_checkpoint(fitting, None, older)
    assert resumed.record()["changed_settings"] == {}


def test_callback_settings_leave_out_paths_and_the_callbacks_turned_off(compose_cfg):
    from training import components

    settings = components.callback_settings(compose_cfg("callbacks.image_grids=null"))
    assert settings["callbacks/early_stopping/patience"] is None
    assert settings["callbacks/model_checkpoint/monitor"] == "val/acc"
    assert "callbacks/model_checkpoint/dirpath" not in settings  # ${paths.output_dir}/...
    assert not [key for key in settings if key.startswith("callbacks/image_grids")]
