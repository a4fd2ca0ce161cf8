"""Hydra launcher plugins: parallel local jobs (joblib), Ray, submitit, and the SLURM DDP preset."""

from __future__ import annotations

import pytest

from hydra_app.config_env import compose
from tests.conftest import run_cli
from tests.sweep_runs import cli_overrides, job_dirs, metrics
from tests.tensorboard_reading import logged_hparams

LEARNING_RATES = ("0.1", "0.02")


def run_sweep(tiny_data_dir, tmp_path, *launcher_overrides: str):
    sweep_dir = tmp_path / "sweep"
    result = run_cli(
        "-m",
        *cli_overrides(tiny_data_dir, tmp_path),
        *launcher_overrides,
        f"optimizer.lr={','.join(LEARNING_RATES)}",
        f"hydra.sweep.dir={sweep_dir}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return sweep_dir, result.stdout + result.stderr


def assert_each_job_wrote_only_its_own_dir(sweep_dir) -> None:
    jobs = job_dirs(sweep_dir)
    assert len(jobs) == len(LEARNING_RATES)
    for job, lr in zip(jobs, LEARNING_RATES, strict=True):
        assert metrics(job)["status"] == "completed"
        # The settings logged in this dir are this job's: no job wrote into another's dir.
        assert logged_hparams(job / "tensorboard")["optimizer/lr"] == pytest.approx(float(lr))
        assert len(list((job / "checkpoints").glob("epoch_*.ckpt"))) == 1
    assert metrics(jobs[0])["train/loss"] != metrics(jobs[1])["train/loss"]


def test_joblib_runs_jobs_in_parallel_into_their_own_dirs(tiny_data_dir, tmp_path):
    sweep_dir, output = run_sweep(
        tiny_data_dir, tmp_path, "hydra/launcher=joblib", "hydra.launcher.n_jobs=2"
    )
    assert "Joblib.Parallel(n_jobs=2" in output
    assert_each_job_wrote_only_its_own_dir(sweep_dir)


@pytest.mark.slow
def test_ray_runs_the_jobs_as_tasks_of_a_local_ray_instance(tiny_data_dir, tmp_path):
    sweep_dir, output = run_sweep(
        tiny_data_dir, tmp_path, "hydra/launcher=ray", "+hydra.launcher.ray.init.num_cpus=2"
    )
    assert f"Ray Launcher is launching {len(LEARNING_RATES)} jobs" in output
    assert "Started a local Ray instance" in output
    assert_each_job_wrote_only_its_own_dir(sweep_dir)
    summary = (sweep_dir / "summary.csv").read_text().splitlines()
    assert len(summary) == 1 + len(LEARNING_RATES)  # a header and a row per job


@pytest.mark.slow
def test_submitit_local_runs_each_job_as_a_submitit_job(tiny_data_dir, tmp_path):
    sweep_dir, _ = run_sweep(tiny_data_dir, tmp_path, "hydra/launcher=submitit_local")
    results = list((sweep_dir / ".submitit").glob("*/*_result.pkl"))
    assert len(results) == len(LEARNING_RATES)
    assert_each_job_wrote_only_its_own_dir(sweep_dir)


def test_slurm_ddp_asks_for_one_task_per_gpu_on_each_node(tmp_path):
    cfg = compose(
        [
            "hydra/launcher=slurm_ddp",
            "trainer=ddp",
            "trainer.devices=4",
            "trainer.num_nodes=2",
            f"paths.output_dir={tmp_path}",
        ],
        return_hydra_config=True,
    )
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher")
    assert (launcher.nodes, launcher.tasks_per_node, launcher.gpus_per_node) == (2, 4, 4)
