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
    from runs import build, preflight, resume, run_record, validate

    run_dir = Path(cfg.paths.output_dir)
    preflight.check_output_dir(run_dir, cfg.get("min_free_disk_mb", 0))  # before the first write
    run_record.record(run_dir, {"status": "running"})
    started = time.perf_counter()
    trainer = None
    try:
        validate.check_config(cfg)  # before any data is read, model built or torch imported
        import lightning as L

        from callbacks.run_settings import RunSettings

        L.seed_everything(cfg.seed, workers=True)
        datamodule = build.datamodule(cfg)
        model = build.model(cfg)
        hyperparameters = build.hyperparameters(cfg)
        settings = RunSettings(hyperparameters)  # compared with a resumed checkpoint's
        trainer = build.trainer(cfg, [*build.callbacks(cfg), settings], build.loggers(cfg))

        ckpt_path = resume.checkpoint_to_resume(cfg, trainer)
        trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
        metrics = run_record.scalar_metrics(trainer)
        metrics.update(run_record.checkpoint_summary(trainer))
        if cfg.get("test"):
            best = metrics.get("best_checkpoint")
            trainer.test(model, datamodule=datamodule, ckpt_path=best, weights_only=True)
            metrics.update(run_record.scalar_metrics(trainer))
        metrics.update(model.records)
    except BaseException as err:
        failure = {
            "status": getattr(err, "status", "failed"),
            "error": f"{type(err).__name__}: {err}",
        }
        run_record.record(run_dir, failure)
        if trainer is not None:  # a failed or diverged job is listed in the sweep's HParams too
            run_record.log_failed_hparams(trainer, hyperparameters, failure)
        raise

    metrics.update(
        status=run_record.COMPLETED,
        epochs=trainer.current_epoch,
        num_params=sum(p.numel() for p in model.parameters()),
        wall_time_s=round(time.perf_counter() - started, 2),
    )
    run_record.log_hparams(trainer, hyperparameters, metrics)
    return run_record.record(run_dir, metrics)


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from runs import ddp_sweeps

    try:
        if ddp_sweeps.needs_single_run(cfg):
            metrics = ddp_sweeps.run_as_single_run(__file__)
        else:
            metrics = train(cfg)
    except Exception:
        if HydraConfig.get().mode != RunMode.MULTIRUN:
            raise
        # One failed job must not end the sweep; its metrics.json records the failure.
        log.exception("Job %s failed; the sweep goes on", HydraConfig.get().job.num)
        return None
    value = metrics.get(cfg.get("optimized_metric"))
    return float(value) if isinstance(value, (int, float)) else None


if __name__ == "__main__":
    try:
        main()
    except (Exception, SystemExit) as err:
        if not isinstance(err, SystemExit) or err.code not in (0, None):
            # Hydra's "Key ... is not in struct" does not say which group option has the key.
            override_hints.print_hints(sys.argv[1:])
        raise
