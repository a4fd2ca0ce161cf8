"""The steps of a training run, in the order ``train()`` takes them: prepare, build, fit, test.

Each step calls the module that owns its part (``preflight``, ``resume``, ``run_dir``,
``validate``, ``components``, ``checkpoint_description``, ``run_record``); none of those calls
back. The record of the run is :class:`training.run_record.RunRecord`, which ``prepare`` opens.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from training import (
    checkpoint_description,
    components,
    preflight,
    resume,
    run_dir,
    run_record,
    validate,
)


@contextmanager
def prepare(cfg: DictConfig) -> Iterator[run_record.RunRecord]:
    """The run dir checked, locked for this run and marked ``running``, for the ``with`` block.

    The output dir must be writable with ``min_free_disk_mb`` free, and a ``resume=<run dir>``
    must hold a run of the same model, before the first write. An error inside the block is
    recorded in ``metrics.json`` (status, error, what the run got to) and raised again.
    """
    out_dir = Path(cfg.paths.output_dir)
    preflight.check_output_dir(out_dir, cfg.get("min_free_disk_mb", 0))
    if cfg.get("resume"):
        resume.check_run_dir(cfg)
    with run_dir.owned(out_dir, resume=bool(cfg.get("resume"))):
        record = run_record.RunRecord(out_dir, tags=list(cfg.get("tags") or []))
        try:
            yield record
        except BaseException as err:
            record.failed(err)
            raise


def build(cfg: DictConfig) -> components.Run:
    """The seeded data module, model and trainer; every setting is checked first, before any
    data is read, model built or torch imported."""
    validate.check_config(cfg)
    import lightning as L

    from callbacks.run_settings import RunSettings

    L.seed_everything(cfg.seed, workers=True)
    datamodule = components.datamodule(cfg)
    model = components.model(cfg)
    validate.check_against_data(cfg, datamodule)
    checkpoint_description.describe(model, cfg, datamodule)  # the file alone rebuilds the model
    hyperparameters = components.hyperparameters(cfg)
    # Applies and records changed settings on resume, the callbacks' included.
    settings = RunSettings(hyperparameters, components.callback_settings(cfg))
    callbacks = [*components.callbacks(cfg), settings]
    trainer = components.trainer(cfg, callbacks, components.loggers(cfg))
    return components.Run(datamodule, model, trainer, settings, hyperparameters)


def fit(cfg: DictConfig, run: components.Run) -> dict[str, Any]:
    """Fit from scratch, from ``ckpt_path`` or, resumed, from the run's last checkpoint;
    returns the fit's metrics, changed settings and best checkpoint."""
    ckpt_path = resume.start_from(cfg, run.trainer, run.model)
    run.trainer.fit(run.model, datamodule=run.datamodule, ckpt_path=ckpt_path, weights_only=True)
    resume.check_trained(cfg, run.trainer, run.settings.batches_trained)
    return {
        **run_record.scalar_metrics(run.trainer),
        **run.settings.record(),
        **run_record.checkpoint_summary(run.trainer),
    }


def test(run: components.Run, ckpt_path: str | None) -> dict[str, float]:
    """Test the weights of ``ckpt_path`` (the best checkpoint; None: the current weights)."""
    run.trainer.test(run.model, datamodule=run.datamodule, ckpt_path=ckpt_path, weights_only=True)
    return run_record.scalar_metrics(run.trainer)
