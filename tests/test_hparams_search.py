"""Hyperparameter search with the Optuna sweeper: every trial a job with its own dir."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from hydra_app.config_env import CONF_DIR, compose
from tests.conftest import ROOT, run_cli
from tests.sweep_runs import cli_overrides, job_dirs, job_overrides, metrics
from tests.tensorboard_reading import logged_hparams

SEARCHES = sorted(p.stem for p in (Path(CONF_DIR) / "hparams_search").glob("*.yaml"))


def test_optuna_search_records_each_trial_in_its_own_dir(tiny_data_dir, tmp_path):
    import optuna

    storage = f"sqlite:///{tmp_path / 'study.db'}"  # on disk, so the test can read the study back
    sweep_dir = tmp_path / "sweep"
    result = run_cli(
        "-m",
        *cli_overrides(tiny_data_dir, tmp_path),
        "hparams_search=classifier_optuna",
        "hydra.sweeper.n_trials=3",
        f"hydra.sweeper.storage={storage}",
        "hydra.sweeper.study_name=search",
        f"hydra.sweep.dir={sweep_dir}",
    )
    assert result.returncode == 0, result.stderr[-3000:]

    trials = optuna.load_study(study_name="search", storage=storage).trials
    jobs = job_dirs(sweep_dir)
    assert len(trials) == len(jobs) == 3
    for trial, job in zip(trials, jobs, strict=True):
        assert trial.state == optuna.trial.TrialState.COMPLETE
        # Optuna got the job's val/acc_best, and the job trained with the trial's parameters.
        assert trial.value == pytest.approx(metrics(job)["val/acc_best"])
        overrides = job_overrides(job)
        for name, value in trial.params.items():
            assert float(overrides[name]) == pytest.approx(value)
        assert logged_hparams(job / "tensorboard")["optimizer/momentum"] == pytest.approx(
            trial.params["optimizer.momentum"]
        )
    assert len({trial.params["optimizer.lr"] for trial in trials}) == 3

    best = OmegaConf.load(sweep_dir / "optimization_results.yaml")
    assert best.best_value == pytest.approx(max(trial.value for trial in trials))


@pytest.mark.parametrize("search", SEARCHES)
def test_each_search_sets_keys_the_config_has(tmp_path, search):
    if search.startswith("vae") and not (Path(CONF_DIR) / "model" / "vae.yaml").exists():
        pytest.skip("needs model=vae")
    cfg = compose(
        [f"hparams_search={search}", f"paths.output_dir={tmp_path}"], return_hydra_config=True
    )
    sweeper = cfg.hydra.sweeper
    assert sweeper._target_.endswith("OptunaSweeper")
    assert sweeper.direction in ("maximize", "minimize")
    for key in sweeper.params:
        assert OmegaConf.select(cfg, key, default=None) is not None, f"{search} searches {key}"
    assert cfg.optimized_metric


def _finished_trials(db: Path, study_name: str) -> list:
    import optuna

    if not db.is_file():
        return []
    storage = f"sqlite:///{db}"
    try:
        study = optuna.load_study(study_name=study_name, storage=storage)
    except KeyError:  # the sweep has not created it yet
        return []
    return study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))


@pytest.mark.slow
def test_a_killed_search_rerun_with_the_same_command_goes_on_with_its_trials(
    tiny_data_dir, tmp_path
):
    import optuna

    command = [
        sys.executable,
        str(ROOT / "train.py"),
        *cli_overrides(tiny_data_dir, tmp_path),
        "hparams_search=classifier_optuna",
        "hydra.sweeper.n_trials=4",
    ]
    # The search's default dir and storage, which a rerun of the same command finds again.
    sweep_dir = tmp_path / "logs" / "train" / "searches" / "train_classifier_lenet"
    db, study_name = sweep_dir / "optuna.db", "train_classifier_lenet"

    search = subprocess.Popen(
        command, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        while len(_finished_trials(db, study_name)) < 2:
            assert search.poll() is None, search.stderr.read()[-3000:]
            time.sleep(0.2)
        os.killpg(search.pid, signal.SIGTERM)
        _, stderr = search.communicate(timeout=120)
    finally:
        if search.poll() is None:
            os.killpg(search.pid, signal.SIGKILL)
    assert search.returncode != 0, "the search ended before it was stopped"
    first = _finished_trials(db, study_name)
    assert len(first) == 2, stderr[-3000:]
    first_files = {
        path: path.stat().st_mtime_ns
        for job in job_dirs(sweep_dir)[:2]
        for path in job.rglob("*")
        if path.is_file()
    }

    rerun = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-3000:]

    study = optuna.load_study(study_name=study_name, storage=f"sqlite:///{db}")
    complete = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert len(complete) == 4  # not 2 + 4
    # The first two trials are the killed search's, unchanged, and their jobs were not rerun.
    assert [(t.number, t.params, t.value) for t in complete[:2]] == [
        (t.number, t.params, t.value) for t in first
    ]
    assert {path: path.stat().st_mtime_ns for path in first_files} == first_files
    # A trial the kill cut short is marked failed; every complete trial has its own job dir.
    assert all(t.state == optuna.trial.TrialState.FAIL for t in study.trials if t not in complete)
    for trial in complete:
        assert metrics(sweep_dir / str(trial.number))["val/acc_best"] == pytest.approx(trial.value)
    # The resumed sampler drew new parameters, not the first trials' again.
    assert len({t.params["optimizer.lr"] for t in complete}) == 4
