"""Hyperparameter search with the Optuna sweeper: every trial a job with its own dir."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from hydra_app.config_env import CONF_DIR, compose
from tests.conftest import run_cli
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
