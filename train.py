"""Train and test one model as configured under conf/; ``python train.py --help`` lists the options.

python train.py model=small optimizer=adam trainer.max_epochs=5
python train.py -m model=lenet,small
"""

from __future__ import annotations

import logging
import sys
import warnings

import hydra
from omegaconf import DictConfig

from hydra_app import config_env, override_hints, user_errors

config_env.setup()
# Lightning's own use of torch's deprecated pytree class: nothing a run can change.
warnings.filterwarnings(
    "ignore",
    message=r"`isinstance\(treespec, LeafSpec\)` is deprecated",
    category=FutureWarning,
    module=r"lightning\.",
)
log = logging.getLogger(__name__)


def train(cfg: DictConfig) -> dict:
    """Fit, test the best checkpoint, and write ``metrics.json`` into the run dir.

    Returns the run's final metrics. Heavy libraries are imported in the steps, not at module
    level, so that ``--help`` and config errors answer at once.
    """
    from training import steps

    with steps.prepare(cfg) as record:  # run dir checked and locked; any failure recorded
        run = record.watch(steps.build(cfg))
        metrics = steps.fit(cfg, run)
        if cfg.get("test"):
            metrics |= steps.test(run, metrics.get("best_checkpoint"))
        return record.completed(run, metrics)


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
@user_errors.reported
def main(cfg: DictConfig) -> float | None:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from hydra_app import config_tree, dir_guards
    from training import ddp_sweeps, interrupts

    config_tree.print_tree(cfg)
    try:
        if ddp_sweeps.needs_single_run(cfg):
            metrics = ddp_sweeps.run_as_single_run(__file__)
        else:
            metrics = train(cfg)
    except interrupts.Interrupted:
        if HydraConfig.get().mode == RunMode.MULTIRUN:  # no later job starts; sum up the rest
            dir_guards.end_sweep_early(HydraConfig.get())
        raise
    except Exception:
        if HydraConfig.get().mode != RunMode.MULTIRUN:
            raise
        # One failed job must not end the sweep; its metrics.json records the failure.
        log.exception("Job %s failed; the sweep goes on", HydraConfig.get().job.num)
        return None
    value = metrics.get(cfg.get("optimized_metric"))
    return float(value) if isinstance(value, (int, float)) else None


if __name__ == "__main__":
    from training.interrupts import Interrupted, stop_on_signals

    try:
        with stop_on_signals():
            main()
    except Interrupted as err:
        print(f"{type(err).__name__}: {err}", file=sys.stderr)
        sys.exit(err.exit_code)
    except (Exception, SystemExit) as err:
        # An exit with a message is a refusal that names its own fix (hydra_app/dir_guards.py).
        refusal = isinstance(err, SystemExit) and isinstance(err.code, str)
        if not refusal and (not isinstance(err, SystemExit) or err.code not in (0, None)):
            # Hydra's "Key ... is not in struct" does not say which group option has the key.
            override_hints.print_hints(sys.argv[1:])
        raise
