"""Sweep jobs that train with script-launched DDP run as single runs of their own.

Lightning's ``ddp`` starts ranks 1..N-1 by running the command line again. Inside a ``-m``
sweep that command line is the whole sweep, so every rank would start a sweep of its own:
new sweep dirs and, under Optuna, other parameters on each rank. Such a job instead runs
its own overrides as a single run in its own dir, a command line Lightning can repeat
safely for each rank. Where SLURM starts the ranks (``hydra/launcher=slurm_ddp``), each task
runs that single run and Lightning takes its rank from SLURM as in any single run.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import get_class
from omegaconf import DictConfig

from storage.run_files import read_metrics

log = logging.getLogger(__name__)


class SingleRunFailed(RuntimeError):
    """The single run that a sweep job handed its training to exited with an error."""


def reruns_script_per_rank(trainer_cfg: DictConfig) -> bool:
    """Whether ``trainer.strategy`` is DDP whose ranks Lightning starts with ``popen``."""
    from lightning.pytorch.strategies import DDPStrategy, StrategyRegistry

    strategy = trainer_cfg.get("strategy", "auto")
    if isinstance(strategy, str):
        if strategy not in StrategyRegistry:
            return False
        entry = StrategyRegistry[strategy]
        strategy_class, init_params = entry["strategy"], entry["init_params"]
    elif isinstance(strategy, DictConfig) and "_target_" in strategy:
        strategy_class, init_params = get_class(strategy._target_), strategy
    else:
        return False
    start_method = init_params.get("start_method", "popen")
    return issubclass(strategy_class, DDPStrategy) and start_method == "popen"


def needs_single_run(cfg: DictConfig) -> bool:
    """A multirun job whose trainer would start its ranks by re-running the sweep's command."""
    return (
        HydraConfig.initialized()
        and HydraConfig.get().mode == RunMode.MULTIRUN
        and reruns_script_per_rank(cfg.trainer)
    )


def single_run_command(script: str | Path) -> list[str]:
    """``python <script> <this job's overrides>`` as a single run in this job's dir."""
    hydra_cfg = HydraConfig.get()
    return [
        sys.executable,
        str(Path(script).resolve()),
        *hydra_cfg.overrides.task,
        "hydra.mode=RUN",  # also when a config sets hydra.mode: MULTIRUN
        f'hydra.run.dir="{hydra_cfg.runtime.output_dir}"',
        "hydra.output_subdir=null",  # the sweep job has saved the config already
    ]


def run_as_single_run(script: str | Path) -> dict:
    """Train this sweep job in a single run of ``script`` and return its ``metrics.json``."""
    hydra_cfg = HydraConfig.get()
    run_dir = hydra_cfg.runtime.output_dir
    log.info(
        "Job %s uses Lightning's script-launched DDP: training it as a single run in %s",
        hydra_cfg.job.num,
        run_dir,
    )
    completed = subprocess.run(single_run_command(script), cwd=hydra_cfg.runtime.cwd, check=False)
    if completed.returncode != 0:
        raise SingleRunFailed(
            f"the single run of job {hydra_cfg.job.num} exited with code {completed.returncode}; "
            f"see the log in {run_dir}"
        )
    return read_metrics(run_dir)
