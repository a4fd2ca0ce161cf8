"""Train and test one model as configured under conf/; ``python train.py --help`` lists the options.

python train.py model=small optimizer=adam trainer.max_epochs=5
python train.py -m model=lenet,small
"""

from __future__ import annotations

import logging
import sys
import time
import warnings
from pathlib import Path

import hydra
from omegaconf import DictConfig

from runs import config_env, override_hints
from storage.run_files import COMPLETED, RUNNING

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

    Returns the run's final metrics. Heavy libraries are imported here, not at module
    level, so that ``--help`` and config errors answer at once.
    """
    from runs import build, checkpoints, preflight, resume, run_dir, run_record, validate

    out_dir = Path(cfg.paths.output_dir)
    preflight.check_output_dir(out_dir, cfg.get("min_free_disk_mb", 0))  # before the first write
    if cfg.get("resume"):
        resume.check_run_dir(cfg)
    with run_dir.owned(out_dir, resume=bool(cfg.get("resume"))):
        run_record.record(out_dir, {"status": RUNNING}, fresh=True)
        started = time.perf_counter()
        trainer = None
        try:
            validate.check_config(cfg)  # before any data is read, model built or torch imported
            import lightning as L

            from callbacks.run_settings import RunSettings

            L.seed_everything(cfg.seed, workers=True)
            datamodule = build.datamodule(cfg)
            model = build.model(cfg)
            validate.check_against_data(cfg, datamodule)
            checkpoints.describe(model, cfg, datamodule)  # load_from_checkpoint(path) needs no more
            hyperparameters = build.hyperparameters(cfg)
            # Applies and records changed settings, the callbacks' included.
            settings = RunSettings(hyperparameters, build.callback_settings(cfg))
            trainer = build.trainer(cfg, [*build.callbacks(cfg), settings], build.loggers(cfg))

            ckpt_path = resume.start_from(cfg, trainer, model)
            trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
            resume.check_trained(cfg, trainer, settings.batches_trained)
            metrics = {**run_record.scalar_metrics(trainer), **settings.record()}
            metrics.update(run_record.checkpoint_summary(trainer))
            if cfg.get("test"):
                best = metrics.get("best_checkpoint")
                trainer.test(model, datamodule=datamodule, ckpt_path=best, weights_only=True)
                metrics.update(run_record.scalar_metrics(trainer))
            metrics.update(model.records)
        except BaseException as err:
            failure = run_record.record(out_dir, run_record.failure(err, trainer))
            if trainer is not None:  # a failed or diverged job is in the sweep's HParams too
                run_record.log_failed_hparams(trainer, hyperparameters, failure)
            raise

        metrics.update(
            status=COMPLETED,
            epochs=trainer.current_epoch,
            num_params=sum(p.numel() for p in model.parameters()),
            wall_time_s=round(time.perf_counter() - started, 2),
        )
        run_record.log_hparams(trainer, hyperparameters, metrics)
        return run_record.record(out_dir, metrics)


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from runs import ddp_sweeps, dir_guards, interrupts

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
    from runs.interrupts import Interrupted, stop_on_signals

    try:
        with stop_on_signals():
            main()
    except Interrupted as err:
        print(f"{type(err).__name__}: {err}", file=sys.stderr)
        sys.exit(err.exit_code)
    except (Exception, SystemExit) as err:
        # An exit with a message is a refusal that names its own fix (runs/dir_guards.py).
        refusal = isinstance(err, SystemExit) and isinstance(err.code, str)
        if not refusal and (not isinstance(err, SystemExit) or err.code not in (0, None)):
            # Hydra's "Key ... is not in struct" does not say which group option has the key.
            override_hints.print_hints(sys.argv[1:])
        raise
