"""Evaluate a checkpoint on a data split, with a training run's end-of-run outputs."""

from __future__ import annotations

import time
from pathlib import Path

from omegaconf import DictConfig

from storage.run_files import COMPLETED

SPLITS = ("test", "val")


def evaluate(cfg: DictConfig) -> dict:
    """Test (or validate) ``cfg.ckpt_path`` on ``cfg.data``; writes ``metrics.json`` in the run dir.

    The checkpoint gives the model and its input normalisation; data whose images or classes do
    not fit it is refused before any batch runs.
    """
    from inference import loading
    from training import components, preflight, run_record, validate

    if cfg.split not in SPLITS:
        raise validate.ConfigError(f"split={cfg.split!r}; use one of {list(SPLITS)}")
    validate.check_config(cfg)  # the callbacks' and the data's settings
    run_dir = Path(cfg.paths.output_dir)
    preflight.check_output_dir(run_dir, cfg.get("min_free_disk_mb", 0))
    started = time.perf_counter()
    loaded = loading.load(cfg.ckpt_path)
    loading.use_input_settings(cfg.data, loaded.spec)

    import lightning as L

    from callbacks.feature_embeddings import FeatureEmbeddings
    from callbacks.image_grids import ImageGrids

    L.seed_everything(cfg.seed, workers=True)
    datamodule = components.datamodule(cfg)
    datamodule.setup("test")
    loading.check_fits(loaded.spec, datamodule, _data_choice(cfg))
    trainer = components.trainer(cfg, components.callbacks(cfg), components.loggers(cfg))
    run = trainer.test if cfg.split == "test" else trainer.validate
    run(loaded.module, datamodule=datamodule)
    # Drawn at the end of fit in a training run; here the evaluated weights are the ones to draw.
    for callback in trainer.callbacks:
        if isinstance(callback, (FeatureEmbeddings, ImageGrids)):
            callback.on_fit_end(trainer, loaded.module)

    metrics = run_record.scalar_metrics(trainer)
    metrics.update(loaded.module.records)
    metrics.update(
        status=COMPLETED,
        checkpoint=str(Path(cfg.ckpt_path).resolve()),
        split=cfg.split,
        class_names=loaded.spec.class_names,
        wall_time_s=round(time.perf_counter() - started, 2),
    )
    return run_record.record(run_dir, metrics)


def _data_choice(cfg: DictConfig) -> str:
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        return str(HydraConfig.get().runtime.choices.get("data", "?"))
    return str(cfg.data.get("_target_", "?"))
