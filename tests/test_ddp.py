"""DDP on two CPU processes (``trainer=ddp_cpu``): as one process, one run dir, safe in sweeps."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from tests.conftest import run_cli
from tests.sweep_runs import cli_overrides, job_dirs, job_overrides, metrics, stage_metrics
from train import train
from training.ddp_sweeps import reruns_script_per_rank

# Two ranks of 16 make the global batch of 32 that the one-process runs use.
PER_RANK_BATCH = 16
# Gradients are averaged across ranks instead of over one batch: equal up to float rounding.
TOLERANCE = {"rel": 1e-4, "abs": 1e-6}


def one_process_metrics(compose_cfg, output_dir: Path, *overrides: str) -> dict[str, float]:
    cfg = compose_cfg(
        f"data.batch_size={2 * PER_RANK_BATCH}", f"paths.output_dir={output_dir}", *overrides
    )
    return stage_metrics(train(cfg))


# With several optimizer steps per training step, each rank steps through its shard's batches.
@pytest.mark.parametrize("steps_per_execution", [1, 3])
def test_ddp_cpu_matches_one_process_on_the_same_global_batch(
    compose_cfg, tiny_data_dir, tmp_path, steps_per_execution
):
    result = run_cli(
        *cli_overrides(tiny_data_dir, tmp_path),
        "trainer=ddp_cpu",
        f"data.batch_size={PER_RANK_BATCH}",
        f"steps_per_execution={steps_per_execution}",
    )
    assert result.returncode == 0, result.stderr[-3000:]

    [run_dir] = (tmp_path / "logs" / "train" / "runs").iterdir()  # both ranks share one run dir
    ddp = metrics(run_dir)
    assert ddp["status"] == "completed" and ddp["epochs"] == 2
    reference = one_process_metrics(compose_cfg, tmp_path / "one_process")
    assert stage_metrics(ddp) == pytest.approx(reference, **TOLERANCE)

    log = (run_dir / "train.log").read_text()
    assert "GLOBAL_RANK: 1" in log  # rank 1 ran in this dir as well
    assert log.count("Metrics written") == 2  # by rank 0 alone: "running", then the final record
    event_writers = {p.name.split(".")[-2] for p in (run_dir / "tensorboard").glob("events.*")}
    assert len(event_writers) == 1  # one process (pid) wrote all TensorBoard events


@pytest.mark.slow
def test_ddp_in_an_optuna_sweep_trains_each_trial_once_with_its_parameters(
    compose_cfg, tiny_data_dir, tmp_path
):
    """``ddp`` re-runs the command line per rank: inside ``-m`` each rank would start a sweep."""
    result = run_cli(
        "-m",
        *cli_overrides(tiny_data_dir, tmp_path),
        "trainer=ddp_cpu",
        f"data.batch_size={PER_RANK_BATCH}",
        "hparams_search=classifier_optuna",
        "hydra.sweeper.n_trials=2",
        "hydra.sweeper.sampler.seed=null",  # a rank sampling on its own would pick other values
        # Two values each instead of the search's ranges: each of the eight combinations ends
        # well within TOLERANCE of one process, and any two differ far beyond it. A large lr
        # with momentum near 1, which the ranges allow, amplifies the rounding past TOLERANCE.
        "optimizer.lr=choice(0.02,0.05)",
        "optimizer.momentum=choice(0.8,0.9)",
        "optimizer.weight_decay=choice(0,0.01)",
    )
    assert result.returncode == 0, result.stderr[-3000:]

    logs = tmp_path / "logs" / "train"
    assert [d.name for d in logs.iterdir()] == ["searches"]  # no run dirs of the ranks' own
    [sweep_dir] = (logs / "searches").iterdir()  # and no second search
    jobs = job_dirs(sweep_dir)
    assert [job.name for job in jobs] == ["0", "1"]
    for job in jobs:
        sampled = {k: v for k, v in job_overrides(job).items() if k.startswith("optimizer.")}
        assert set(sampled) == {"optimizer.lr", "optimizer.momentum", "optimizer.weight_decay"}
        # A rank with other parameters would change the synced metrics.
        same_parameters = (f"{k}={v}" for k, v in sampled.items())
        reference = one_process_metrics(compose_cfg, tmp_path / f"one_{job.name}", *same_parameters)
        assert stage_metrics(metrics(job)) == pytest.approx(reference, **TOLERANCE)


@pytest.mark.parametrize(
    "strategy, reruns",
    [
        ("ddp", True),
        ("ddp_find_unused_parameters_true", True),
        ("ddp_spawn", False),
        ("auto", False),
        ({"_target_": "lightning.pytorch.strategies.DDPStrategy"}, True),
        ({"_target_": "lightning.pytorch.strategies.DDPStrategy", "start_method": "spawn"}, False),
    ],
)
def test_strategies_that_rerun_the_script_per_rank_are_recognised(strategy, reruns):
    assert reruns_script_per_rank(OmegaConf.create({"strategy": strategy})) is reruns
