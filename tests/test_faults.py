"""The reliability table of docs/reliability.md, one test a fault, through the real CLI.

Signals are real (sent by the process to itself from ``tests/faults/sitecustomize.py`` after a
given optimizer step), and so are the files, locks and run dirs.
"""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from storage.run_files import read_metrics
from tests.conftest import ROOT, run_cli, tiny_overrides
from training import run_dir as run_dir_lock

FAULTS_DIR = Path(__file__).parent / "faults"
STEPS = 4  # training batches an epoch in these runs
QUICK = [
    f"+trainer.limit_train_batches={STEPS}",
    "+trainer.limit_val_batches=1",
    "callbacks.feature_embeddings=null",
    # Every epoch's checkpoint is kept: a test starts from epoch_001.ckpt, best or not.
    "+callbacks.model_checkpoint.save_top_k=-1",
]
LR = 0.05  # conf/optimizer/sgd.yaml


def _env(fault: dict | None) -> dict | None:
    if not fault:
        return None
    path = os.pathsep.join(filter(None, [str(FAULTS_DIR), os.environ.get("PYTHONPATH")]))
    return {"PYTHONPATH": path, **fault}


def _train(data_dir: Path, run_dir: Path, *extra: str, fault: dict | None = None, new=True):
    """``train.py`` on tiny data into ``run_dir`` (a new run unless ``new`` is false)."""
    where = [f"hydra.run.dir={run_dir}"] if new else []
    return run_cli(*tiny_overrides(data_dir, run_dir), *QUICK, *where, *extra, env=_env(fault))


def _sweep(data_dir: Path, sweep_dir: Path, *extra: str, fault: dict | None = None):
    tiny = [o for o in tiny_overrides(data_dir, sweep_dir) if not o.startswith("paths.output_dir")]
    return run_cli("-m", *tiny, *QUICK, f"hydra.sweep.dir={sweep_dir}", *extra, env=_env(fault))


def _fingerprint(directory: Path) -> dict[str, str]:
    """Every file under ``directory`` (but the lock file) with its MD5."""
    return {
        str(p.relative_to(directory)): hashlib.md5(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file() and p.name != run_dir_lock.LOCK_FILE
    }


def _checkpoint(path: Path) -> dict:
    return torch.load(path, weights_only=True)


def _rows(sweep_dir: Path) -> list[dict[str, str]]:
    with open(sweep_dir / "summary.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def finished(tiny_data_dir, tmp_path_factory) -> Path:
    """A completed lenet run of 2 epochs; tests that change it work on a copy."""
    run_dir = tmp_path_factory.mktemp("finished")
    result = _train(tiny_data_dir, run_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    return run_dir


def _copy(run_dir: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    return copy


# Exit codes --------------------------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_run_as_interrupted_with_the_shell_exit_code(
    tiny_data_dir, tmp_path, signum
):
    fault = {"FAULT_SIGNAL_AFTER_STEP": f"{STEPS + 2}:{signum.name}"}  # in epoch 2
    stopped = _train(tiny_data_dir, tmp_path, fault=fault)
    assert stopped.returncode == 128 + signum, stopped.stderr[-3000:]
    assert f"Stopped by {signum.name}" in stopped.stderr
    metrics = read_metrics(tmp_path)
    assert metrics["status"] == "interrupted"
    assert metrics["val/acc"] >= 0  # what the first epoch reached is kept
    assert _checkpoint(tmp_path / "checkpoints" / "last.ckpt")["global_step"] == STEPS


def test_an_interrupted_run_resumes_to_a_fresh_record(tiny_data_dir, tmp_path):
    fault = {"FAULT_SIGNAL_AFTER_STEP": f"{STEPS + 2}:SIGTERM"}
    assert _train(tiny_data_dir, tmp_path, fault=fault).returncode == 143
    assert "error" in read_metrics(tmp_path)
    resumed = _train(tiny_data_dir, tmp_path, f"resume={tmp_path}", new=False)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    metrics = read_metrics(tmp_path)
    assert metrics["status"] == "completed"
    assert "error" not in metrics  # the interrupted run's record is not merged into this one
    assert metrics["resumed_at_epoch"] == 1
    assert metrics["changed_settings"] == {}


def test_a_sigterm_ends_the_sweep_non_zero_after_the_summary(tiny_data_dir, tmp_path):
    fault = {"FAULT_SIGNAL_AFTER_STEP": "2:SIGTERM"}  # in job 0's first epoch
    result = _sweep(tiny_data_dir, tmp_path, "seed=1,2", fault=fault)
    assert result.returncode == 143, result.stderr[-3000:]
    assert [(r["job"], r["status"]) for r in _rows(tmp_path)] == [("0", "interrupted")]
    assert not (tmp_path / "1").exists()  # no job starts after the signal


def test_a_sweep_with_a_failed_job_finishes_then_exits_non_zero(tiny_data_dir, tmp_path):
    result = _sweep(tiny_data_dir, tmp_path, "trainer.max_epochs=1", "optimizer.lr=-1,0.05")
    assert result.returncode == 1, result.stderr[-3000:]
    assert "1 of 2 jobs did not complete (0: failed)" in result.stdout + result.stderr
    assert [(r["job"], r["status"]) for r in _rows(tmp_path)] == [
        ("0", "failed"),
        ("1", "completed"),
    ]


def test_a_run_that_trains_no_batch_fails(tiny_data_dir, tmp_path):
    result = _train(tiny_data_dir, tmp_path, "++trainer.limit_train_batches=0")
    assert result.returncode == 1
    assert "NothingTrained: The run trained no batch" in result.stderr
    assert "trainer.limit_train_batches=0" in result.stderr
    assert read_metrics(tmp_path)["status"] == "failed"
    assert "test/acc" not in read_metrics(tmp_path)


# A run dir belongs to one run --------------------------------------------------------------


def test_default_run_dirs_differ_for_runs_started_at_once(tmp_path):
    command = [
        sys.executable,
        str(ROOT / "train.py"),
        "--cfg",
        "all",
        "--resolve",
        "-p",
        "hydra.run",
    ]
    launches = [
        subprocess.Popen([*command, f"paths.log_dir={tmp_path}"], stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    dirs = []
    for process in launches:
        out, _ = process.communicate(timeout=300)
        [line] = [line for line in out.splitlines() if line.startswith("dir:")]
        dirs.append(line.removeprefix("dir:").strip())
    # The process id tells apart the dirs of runs started in the same second.
    assert [d.rsplit("_", 1)[-1] for d in dirs] == [str(p.pid) for p in launches]
    assert len(set(dirs)) == 3


def test_a_run_dir_in_use_is_refused_naming_the_holder(tiny_data_dir, tmp_path):
    run_dir_lock.claim(tmp_path)  # this test process holds it, as a running run would
    try:
        result = _train(tiny_data_dir, tmp_path)
    finally:
        run_dir_lock.release(tmp_path)
    assert result.returncode == 1
    assert f"is in use by another run (pid {os.getpid()})" in result.stderr
    assert not (tmp_path / ".hydra").exists()
    assert not (tmp_path / "metrics.json").exists()


def test_a_new_run_into_a_dir_that_holds_a_run_is_refused(tiny_data_dir, finished):
    before = _fingerprint(finished)
    result = _train(tiny_data_dir, finished, "model=vae")
    assert result.returncode == 1
    assert f"The run dir {finished} already holds a run" in result.stderr
    assert f"resume={finished}" in result.stderr
    assert _fingerprint(finished) == before


def test_a_sweep_into_a_sweep_dir_is_refused_unless_appended(tiny_data_dir, tmp_path):
    first = _sweep(tiny_data_dir, tmp_path, "optimizer.lr=-1")  # fails in a second
    assert first.returncode == 1
    before = _fingerprint(tmp_path)
    again = _sweep(tiny_data_dir, tmp_path, "optimizer.lr=-2")
    assert again.returncode == 1
    assert f"The sweep dir {tmp_path} already holds the jobs of a sweep (0)" in again.stderr
    assert _fingerprint(tmp_path) == before

    added = _sweep(
        tiny_data_dir,
        tmp_path,
        "optimizer.lr=-3",
        "append_sweep=true",
        "hydra.sweep.subdir=b${hydra.job.num}",
    )
    assert added.returncode == 1  # its one job failed too
    assert [(r["job"], r["optimizer.lr"]) for r in _rows(tmp_path)] == [("b0", "-3")]


# Resume: checked before anything is written; changed settings applied or refused ---------


def test_resume_of_another_model_is_refused_before_anything_is_written(tiny_data_dir, finished):
    before = _fingerprint(finished)
    result = _train(tiny_data_dir, finished, "model=vae", f"resume={finished}", new=False)
    assert result.returncode == 1
    assert f"resume={finished} holds a run of model=lenet" in result.stderr
    assert "model=vae (the run's: model=lenet)" in result.stderr
    assert "Traceback" not in result.stderr
    assert _fingerprint(finished) == before


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("missing", "no such run dir"),
        ("metrics.json", "is a file; resume= takes a run dir"),
    ],
)
def test_resume_of_no_run_dir_writes_nothing(tiny_data_dir, finished, tmp_path, target, message):
    copy = _copy(finished, tmp_path)
    before = _fingerprint(copy)
    result = _train(tiny_data_dir, copy / target, f"resume={copy / target}", new=False)
    assert result.returncode == 1
    assert message in result.stderr
    assert not (copy / "missing").exists()
    assert _fingerprint(copy) == before


def test_resume_with_a_corrupt_metrics_file_names_it(tiny_data_dir, finished, tmp_path):
    copy = _copy(finished, tmp_path)
    (copy / "metrics.json").write_text('{"status": "runn')
    before = _fingerprint(copy)
    result = _train(tiny_data_dir, copy, f"resume={copy}", new=False)
    assert result.returncode == 1
    assert f"Cannot read {copy / 'metrics.json'}: JSONDecodeError" in result.stderr
    assert _fingerprint(copy) == before


def test_resume_with_a_new_lr_and_callback_trains_with_them_and_records_both(
    tiny_data_dir, tmp_path
):
    fault = {"FAULT_KILL_AFTER_STEP": str(STEPS + 2)}
    patience = "callbacks.early_stopping.patience"
    killed = _train(tiny_data_dir, tmp_path, f"{patience}=5", fault=fault)
    assert killed.returncode == -signal.SIGKILL
    changed = ("optimizer.lr=0.5", f"{patience}=3")
    resumed = _train(tiny_data_dir, tmp_path, f"resume={tmp_path}", *changed, new=False)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    metrics = read_metrics(tmp_path)
    assert metrics["resumed_at_epoch"] == 1
    assert metrics["changed_settings"] == {
        patience: {"before": 5, "after": 3},
        "optimizer.lr": {"before": LR, "after": 0.5},
    }
    assert f"{patience}=5  (this run: 3)" in resumed.stdout + resumed.stderr
    # Epoch 2 of a cosine schedule over 2 epochs: lr / 2, logged as float32.
    assert metrics["lr-SGD"] == pytest.approx(0.5 / 2, rel=1e-6)
    last = _checkpoint(tmp_path / "checkpoints" / "last.ckpt")
    assert last["optimizer_states"][0]["param_groups"][0]["initial_lr"] == 0.5
    [stopping] = [v for k, v in last["callbacks"].items() if k.startswith("RecordedEarlyStopping")]
    assert stopping["patience"] == 3  # this run's, not the checkpoint's


def test_ckpt_path_with_more_epochs_and_no_schedule_trains_at_the_configured_lr(
    tiny_data_dir, finished, tmp_path
):
    start = finished / "checkpoints" / "epoch_001.ckpt"
    result = _train(
        tiny_data_dir, tmp_path, f"ckpt_path={start}", "trainer.max_epochs=4", "scheduler=none"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "with its optimizer state, scheduler state and epoch count restored" in result.stdout
    metrics = read_metrics(tmp_path)
    assert metrics["lr-SGD"] == pytest.approx(LR, rel=1e-6)  # not the cosine's final 0.0
    assert metrics["resumed_at_epoch"] == 2
    assert metrics["changed_settings"]["trainer.max_epochs"] == {"before": 2, "after": 4}
    assert _checkpoint(tmp_path / "checkpoints" / "last.ckpt")["global_step"] == 4 * STEPS


def test_ckpt_weights_only_starts_a_new_schedule(tiny_data_dir, finished, tmp_path):
    start = finished / "checkpoints" / "last.ckpt"
    result = _train(tiny_data_dir, tmp_path, f"ckpt_path={start}", "ckpt_weights_only=true")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "start anew (ckpt_weights_only=true)" in result.stdout
    assert _checkpoint(tmp_path / "checkpoints" / "last.ckpt")["global_step"] == 2 * STEPS
    assert "resumed_at_epoch" not in read_metrics(tmp_path)


def test_ckpt_path_of_a_finished_run_with_nothing_left_fails_clearly(
    tiny_data_dir, finished, tmp_path
):
    start = finished / "checkpoints" / "last.ckpt"
    result = _train(tiny_data_dir, tmp_path, f"ckpt_path={start}")
    assert result.returncode == 1
    assert "already reached trainer.max_epochs=2; raise trainer.max_epochs" in result.stderr
    assert "TypeError" not in result.stderr


# Faults named, nothing dropped ---------------------------------------------------------------


def test_disk_full_after_training_names_the_file_and_keeps_the_fit(tiny_data_dir, tmp_path):
    figure = tmp_path / "learning_curves.png"
    failed = _train(tiny_data_dir, tmp_path, fault={"FAULT_DISK_FULL_FOR": figure.name})
    assert failed.returncode == 1
    assert f"Could not write {figure}: No space left on device (" in failed.stderr
    assert "MB free on its disk)" in failed.stderr
    metrics = read_metrics(tmp_path)
    assert metrics["status"] == "failed"
    assert metrics["val/acc"] >= 0 and "best_checkpoint" in metrics
    assert _checkpoint(tmp_path / "checkpoints" / "last.ckpt")["global_step"] == 2 * STEPS

    resumed = _train(tiny_data_dir, tmp_path, f"resume={tmp_path}", new=False)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert read_metrics(tmp_path)["status"] == "completed"
    assert "test/acc" in read_metrics(tmp_path)
    assert figure.exists()


def test_a_corrupt_job_record_is_listed_as_unreadable(tmp_path):
    from hydra_app.sweep_summary import STATUS_UNREADABLE, collect_jobs, main_metrics, write_summary

    for name, text in [("0", '{"status": "completed", "test/acc": 0.5}'), ("1", '{"stat')]:
        (tmp_path / name / ".hydra").mkdir(parents=True)
        # Not seeds: jobs that differ only by seed are summarised per group, not per job.
        (tmp_path / name / ".hydra" / "overrides.yaml").write_text(f"- optimizer.lr=0.{name}1\n")
        (tmp_path / name / "metrics.json").write_text(text)
    jobs = collect_jobs(tmp_path)
    write_summary(tmp_path, jobs, main_metrics(jobs))
    rows = _rows(tmp_path)
    assert [(r["job"], r["status"]) for r in rows] == [("0", "completed"), ("1", STATUS_UNREADABLE)]
    assert f"Cannot read {tmp_path / '1' / 'metrics.json'}" in rows[1]["error"]


@pytest.mark.parametrize(
    ("override", "problem"),
    [
        ("model.net.channels=[6]", "model.net.channels=[6]: must be a list of 2 values"),
        ("optimizer.betas=[0.9]", "optimizer.betas=[0.9]: must be a list of 2 values"),
        ("data.mean=nan", "data.mean=nan: must be a number that is finite"),
        ("data.system_dirs=/usr/share", "data.system_dirs='/usr/share': must be a list"),
    ],
)
def test_a_malformed_setting_is_named(compose_cfg, override, problem):
    from training.validate import ConfigError, check_config

    extra = ["optimizer=adam"] if "betas" in override else []
    with pytest.raises(ConfigError) as raised:
        check_config(compose_cfg(*extra, override))
    assert problem in str(raised.value)


def test_the_class_count_is_checked_against_the_data(compose_cfg):
    from training import components
    from training.validate import ConfigError, check_against_data

    cfg = compose_cfg("model.net.num_classes=5")
    with pytest.raises(ConfigError, match=r"model.net.num_classes=5, but the data .* 10 classes"):
        check_against_data(cfg, components.datamodule(cfg))


def test_a_mirror_that_never_answers_times_out_with_retries(tmp_path, monkeypatch):
    import socket

    from lightning_modules.data import files
    from tests.tiny_data import TinyFashionMNIST

    silent = socket.socket()  # accepts connections (the backlog), never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    mirror = f"http://127.0.0.1:{silent.getsockname()[1]}/"
    monkeypatch.setattr(TinyFashionMNIST, "mirrors", [mirror])
    monkeypatch.setattr(files, "DOWNLOAD_TIMEOUT_S", 0.2)
    monkeypatch.setattr(files, "DOWNLOAD_TRIES", 2)
    try:
        with pytest.raises(files.DatasetError) as raised:
            files.ensure_idx_files(TinyFashionMNIST, tmp_path, system_dirs=[], download=True)
    finally:
        silent.close()
    message = str(raised.value)
    assert (
        f"download {mirror}train-images-idx3-ubyte.gz: no answer within 0.2 s, 2 tries" in message
    )
    assert "data.system_dirs=[<that dir>]" in message  # the offline ways


def test_a_read_only_data_dir_with_a_file_missing_is_named(tiny_data_dir, tmp_path):
    from lightning_modules.data.files import DatasetError, ensure_idx_files
    from tests.tiny_data import TinyFashionMNIST

    data_dir = tmp_path / "data"
    shutil.copytree(tiny_data_dir, data_dir)
    raw = data_dir / TinyFashionMNIST.__name__ / "raw"
    (raw / "t10k-labels-idx1-ubyte").unlink()
    for directory in (data_dir, raw.parent, raw):
        directory.chmod(0o555)
    try:
        if os.access(raw, os.W_OK):
            pytest.skip("this user can write to a read-only dir (root)")
        with pytest.raises(DatasetError, match=r"t10k-labels-idx1-ubyte .* cannot be written"):
            ensure_idx_files(TinyFashionMNIST, data_dir, system_dirs=[], download=True)
    finally:
        for directory in (data_dir, raw.parent, raw):
            directory.chmod(0o755)
