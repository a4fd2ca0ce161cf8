"""Fault injection through the real CLI: kill a run, resume it, compare with an uninterrupted run.

The faults live in ``tests/faults/sitecustomize.py``, which the subprocess loads at start-up.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from storage.run_files import partial_files, read_metrics
from tests.conftest import run_cli, tiny_overrides
from tests.tensorboard_reading import event_files, scalars

FAULTS_DIR = Path(__file__).parent / "faults"
STEPS_PER_EPOCH = 16  # tiny data: 600 - 100 validation images in batches of 32
# Timings and paths differ between any two runs; a resumed run also records where it resumed.
RUN_SPECIFIC_SUFFIXES = ("wall_time_s", "best_checkpoint", "resumed_at_epoch", "changed_settings")


def _run_specific(key: str) -> bool:
    return key.endswith(RUN_SPECIFIC_SUFFIXES)


def _train(tiny_data_dir: Path, run_dir: Path, *extra: str, fault: dict | None = None):
    env = None
    if fault:
        env = {
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(FAULTS_DIR), os.environ.get("PYTHONPATH")])
            ),
            **fault,
        }
    return run_cli(*tiny_overrides(tiny_data_dir, run_dir), *extra, env=env)


def _start(tiny_data_dir, run_dir, *extra: str, fault=None):
    return _train(tiny_data_dir, run_dir, f"hydra.run.dir={run_dir}", *extra, fault=fault)


def _resume(tiny_data_dir, run_dir, *extra: str):
    return _train(tiny_data_dir, run_dir, f"resume={run_dir}", *extra)


def _last_checkpoint(run_dir: Path) -> dict:
    return torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)


def _tensorboard_scalars(run_dir: Path) -> dict:
    return {
        tag: points
        for tag, points in scalars(run_dir / "tensorboard").items()
        if not _run_specific(tag)
    }


def _outcome(run_dir: Path) -> dict:
    """Everything a finished run leaves that must not depend on whether it was interrupted."""
    metrics = {k: v for k, v in read_metrics(run_dir).items() if not _run_specific(k)}
    return {
        "metrics": metrics,
        "best_checkpoint": Path(read_metrics(run_dir)["best_checkpoint"]).name,
        "tensorboard": _tensorboard_scalars(run_dir),
        "learning_curves": _last_checkpoint(run_dir)["callbacks"]["LearningCurves"]["history"],
    }


@pytest.fixture(scope="module")
def uninterrupted(tiny_data_dir, tmp_path_factory) -> dict:
    run_dir = tmp_path_factory.mktemp("uninterrupted")
    result = _start(tiny_data_dir, run_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    return _outcome(run_dir)


def test_sigkill_mid_epoch_then_resume_equals_an_uninterrupted_run(
    tiny_data_dir, tmp_path, uninterrupted
):
    killed_at = STEPS_PER_EPOCH + STEPS_PER_EPOCH // 2  # half-way through the second epoch
    killed = _start(tiny_data_dir, tmp_path, fault={"FAULT_KILL_AFTER_STEP": str(killed_at)})
    assert killed.returncode == -signal.SIGKILL
    assert (
        _last_checkpoint(tmp_path)["global_step"] == STEPS_PER_EPOCH
    )  # lost: the steps since then
    assert read_metrics(tmp_path)["status"] == "running"

    resumed = _resume(tiny_data_dir, tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"Resuming from {tmp_path / 'checkpoints' / 'last.ckpt'}" in resumed.stdout
    assert "settings that differ" not in resumed.stdout + resumed.stderr
    outcome = _outcome(tmp_path)
    assert outcome["metrics"]["status"] == "completed"
    assert outcome == uninterrupted
    assert len(event_files(tmp_path / "tensorboard")) == 2  # the killed run's and the resumed one's


def test_several_steps_per_execution_killed_and_resumed_equal_an_uninterrupted_run_of_one(
    tiny_data_dir, tmp_path, uninterrupted
):
    # Killed inside an item of three batches; the uninterrupted run took one step per item.
    killed_at = STEPS_PER_EPOCH + 7
    steps = "steps_per_execution=3"
    killed = _start(tiny_data_dir, tmp_path, steps, fault={"FAULT_KILL_AFTER_STEP": str(killed_at)})
    assert killed.returncode == -signal.SIGKILL
    assert _last_checkpoint(tmp_path)["global_step"] == STEPS_PER_EPOCH

    resumed = _resume(tiny_data_dir, tmp_path, steps)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert _outcome(tmp_path) == uninterrupted


def test_an_epoch_without_a_new_best_still_updates_last_ckpt(tiny_data_dir, tmp_path):
    # The epoch number only grows: under mode=min no epoch after the first is a new best.
    never_better = [
        "trainer.max_epochs=3",
        "callbacks.model_checkpoint.monitor=epoch",
        "callbacks.model_checkpoint.mode=min",
    ]
    killed_at = 2 * STEPS_PER_EPOCH + STEPS_PER_EPOCH // 2  # half-way through the third epoch
    fault = {"FAULT_KILL_AFTER_STEP": str(killed_at)}
    killed = _start(tiny_data_dir, tmp_path, *never_better, fault=fault)
    assert killed.returncode == -signal.SIGKILL
    checkpoints = tmp_path / "checkpoints"
    assert sorted(p.name for p in checkpoints.glob("*.ckpt")) == ["epoch_000.ckpt", "last.ckpt"]
    last = _last_checkpoint(tmp_path)
    assert (last["epoch"], last["global_step"]) == (1, 2 * STEPS_PER_EPOCH)  # epoch 2, not 1

    resumed = _resume(tiny_data_dir, tmp_path, *never_better)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    metrics = read_metrics(tmp_path)
    assert metrics["resumed_at_epoch"] == 2  # only the epoch in progress is trained again
    assert (metrics["status"], metrics["epochs"]) == ("completed", 3)
    assert _last_checkpoint(tmp_path)["global_step"] == 3 * STEPS_PER_EPOCH


def test_kill_while_writing_a_checkpoint_keeps_the_previous_one(
    tiny_data_dir, tmp_path, uninterrupted
):
    last = tmp_path / "checkpoints" / "last.ckpt"
    killed = _start(tiny_data_dir, tmp_path, fault={"FAULT_KILL_IN_SAVE": "2"})  # end of epoch 2
    assert killed.returncode == -signal.SIGKILL
    [half_written] = partial_files(last)
    assert 0 < half_written.stat().st_size < last.stat().st_size
    assert _last_checkpoint(tmp_path)["global_step"] == STEPS_PER_EPOCH  # epoch 1's, intact

    resumed = _resume(tiny_data_dir, tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert partial_files(last) == []
    assert _outcome(tmp_path) == uninterrupted


def test_disk_full_while_writing_a_checkpoint_fails_clearly(tiny_data_dir, tmp_path):
    last = tmp_path / "checkpoints" / "last.ckpt"
    failed = _start(tiny_data_dir, tmp_path, fault={"FAULT_DISK_FULL_IN_SAVE": "2"})
    assert failed.returncode == 1
    assert f"CheckpointError: Could not save checkpoint {last}" in failed.stderr
    assert "The previous last.ckpt, if any, is intact" in failed.stderr
    assert read_metrics(tmp_path)["status"] == "failed"
    assert _last_checkpoint(tmp_path)["global_step"] == STEPS_PER_EPOCH
    assert partial_files(last) == []


def test_resume_checks_its_arguments(compose_cfg, tmp_path):
    from training.resume import ResumeError, checkpoint_to_resume

    with pytest.raises(ResumeError, match="no such checkpoint file"):
        checkpoint_to_resume(compose_cfg(f"ckpt_path={tmp_path}/missing.ckpt"), trainer=None)
    with pytest.raises(ResumeError, match="Drop the paths.output_dir override"):
        checkpoint_to_resume(compose_cfg(f"resume={tmp_path}/elsewhere"), trainer=None)
    no_checkpoints = SimpleNamespace(checkpoint_callbacks=[])
    with pytest.raises(ResumeError, match=f"no last checkpoint under {tmp_path / 'run'}"):
        checkpoint_to_resume(compose_cfg(f"resume={tmp_path / 'run'}"), no_checkpoints)


def test_batch_order_follows_the_epoch_set_after_the_iterator_was_made():
    from lightning_modules.data.batches import BatchIndices

    sampler = BatchIndices(100, 10, shuffle=True, seed=0)
    early = iter(sampler)  # what Lightning does before set_epoch when it resumes
    sampler.set_epoch(3)
    expected = BatchIndices(100, 10, shuffle=True, seed=0)
    expected.set_epoch(3)
    assert [b.tolist() for b in early] == [b.tolist() for b in expected]


def test_data_loading_leaves_the_global_rng_alone():
    from lightning_modules.data.batches import batch_loader

    loader = batch_loader(torch.zeros(20, 1, 2, 2), torch.zeros(20), batch_size=5, shuffle=True)
    before = torch.get_rng_state()
    list(loader)
    assert torch.equal(torch.get_rng_state(), before)
