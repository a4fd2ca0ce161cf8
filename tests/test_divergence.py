"""A non-finite training loss stops the run at its first bad step and is recorded as diverged."""

from __future__ import annotations

import re
from pathlib import Path

import lightning as L
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader

from callbacks.divergence_guard import DivergenceGuard, TrainingDiverged
from hydra_app.config_env import compose
from storage.run_files import DIVERGED, read_metrics
from tests.conftest import run_cli, tiny_overrides
from tests.tensorboard_reading import event_files, logged_hparams, session_status
from train import train
from training import run_record

DIVERGING = ("model=small", "optimizer.lr=1e10")


class LossTurnsNaN(L.LightningModule):
    """A one-weight regression whose loss is NaN from optimizer step ``bad_step`` (1-based) on."""

    def __init__(self, bad_step: int) -> None:
        super().__init__()
        self.layer = nn.Linear(1, 1)
        self.bad_step = bad_step

    def training_step(self, batch, batch_idx):
        loss = self.layer(batch).pow(2).mean()
        return loss * float("nan") if self.global_step + 1 >= self.bad_step else loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01, momentum=0.5)

    def train_dataloader(self):
        return DataLoader(torch.ones(40, 1), batch_size=2)  # 20 steps an epoch


def _fit(model, guard, tmp_path) -> L.Trainer:
    trainer = L.Trainer(
        max_epochs=2,
        callbacks=[guard],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    with pytest.raises(TrainingDiverged) as raised:
        trainer.fit(model)
    assert raised.value.status == DIVERGED
    return trainer, str(raised.value)


def test_cpu_run_stops_at_the_first_bad_step(tmp_path):
    trainer, message = _fit(LossTurnsNaN(bad_step=4), DivergenceGuard(), tmp_path)
    assert trainer.global_step == 4
    assert "at step 4 " in message
    assert "lr=0.01" in message and "momentum=0.5" in message


def test_the_suggested_clipping_override_works_as_written(tmp_path):
    _, message = _fit(LossTurnsNaN(bad_step=2), DivergenceGuard(), tmp_path)
    override = re.search(r"trainer\.gradient_clip_val=\S+", message).group()
    clip = compose([override]).trainer.gradient_clip_val
    assert isinstance(clip, float) and clip > 0


def test_a_sparser_check_still_names_the_first_bad_step(tmp_path):
    guard = DivergenceGuard(check_every_n_steps=3)
    trainer, message = _fit(LossTurnsNaN(bad_step=4), guard, tmp_path)
    assert trainer.global_step == 6  # read at steps 3 and 6
    assert "at step 4 " in message


def test_a_bad_step_found_at_the_epoch_end_check(tmp_path):
    guard = DivergenceGuard(check_every_n_steps=100)
    trainer, message = _fit(LossTurnsNaN(bad_step=19), guard, tmp_path)
    assert trainer.global_step == 20
    assert "at step 19 " in message


def test_finite_losses_run_to_the_end(tmp_path):
    trainer = L.Trainer(
        max_epochs=1,
        callbacks=[DivergenceGuard()],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(LossTurnsNaN(bad_step=10**6))
    assert trainer.global_step == 20


def test_diverged_single_run_exits_non_zero_and_records_the_status(tiny_data_dir, tmp_path):
    run_dir = tmp_path / "run"
    result = run_cli(
        *tiny_overrides(tiny_data_dir, run_dir),
        "model=vae",
        "optimizer=sgd",
        "optimizer.lr=1e10",
        "optimizer.momentum=0.9",
    )
    assert result.returncode != 0
    metrics = read_metrics(run_dir)
    assert metrics["status"] == DIVERGED
    assert "non-finite loss" in metrics["error"]
    assert "lr=1e+10" in metrics["error"] and "momentum=0.9" in metrics["error"]


def test_diverged_run_is_in_the_hparams_dashboard_with_its_settings(compose_cfg):
    cfg = compose_cfg(*DIVERGING)
    with pytest.raises(TrainingDiverged):
        train(cfg)
    log_dir = Path(cfg.paths.output_dir) / "tensorboard"
    hparams = logged_hparams(log_dir)
    assert hparams["status"] == DIVERGED
    assert hparams["optimizer/lr"] == pytest.approx(1e10) and hparams["model/net/hidden"] == "[32]"
    assert session_status(log_dir) == "STATUS_FAILURE"
    assert len(event_files(log_dir)) == 1


def test_an_error_while_logging_hparams_leaves_the_runs_own(compose_cfg, monkeypatch, caplog):
    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(run_record, "log_final", fail)
    cfg = compose_cfg(*DIVERGING)
    with pytest.raises(TrainingDiverged):
        train(cfg)
    assert "Could not add the diverged run to the HParams dashboard" in caplog.text
    assert read_metrics(cfg.paths.output_dir)["status"] == DIVERGED
