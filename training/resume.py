"""Continue a killed run in its own run dir: repeat its command and add ``resume=<run dir>``."""

from __future__ import annotations

import json
import logging
import zipfile
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from storage.run_files import METRICS_FILE, MetricsFileError, read_metrics

log = logging.getLogger(__name__)


class ResumeError(ValueError):
    """``resume``/``ckpt_path`` point at no usable checkpoint; the message says what to pass."""


# What a checkpoint's weights mean: a resume that changes these is refused.
FIXED_GROUPS = ("model", "data")
FIXED_DATA_KEYS = ("dataset_class", "val_size", "mean", "std")
SAVED_CONFIG = Path(".hydra") / "config.yaml"
SAVED_OVERRIDES = Path(".hydra") / "overrides.yaml"


def check_run_dir(cfg: DictConfig, choices: dict | None = None) -> Path:
    """Every check of ``resume=<run dir>`` that needs no torch, before anything is written there.

    It must be a run dir of the same model and data as ``cfg`` (``choices``: Hydra's chosen
    group options), with a loadable-looking ``last.ckpt`` and a readable ``metrics.json``.
    Returns the run dir; raises :class:`ResumeError` naming the problem and the fix.
    """
    run_dir = Path(cfg.resume).expanduser().resolve()
    if run_dir.is_file():
        raise ResumeError(
            f"resume={cfg.resume} is a file; resume= takes a run dir. To start a new run from "
            f"a checkpoint file use ckpt_path={cfg.resume}."
        )
    if not run_dir.is_dir():
        raise ResumeError(f"resume={cfg.resume}: no such run dir.")
    saved_cfg = run_dir / SAVED_CONFIG
    if not saved_cfg.is_file():
        raise ResumeError(
            f"resume={cfg.resume} is not a run dir: it has no {SAVED_CONFIG}. Pass the dir that "
            "holds the run's checkpoints/ and metrics.json."
        )
    _check_same_model(cfg, choices or {}, run_dir)
    last = sorted((run_dir / "checkpoints").glob("last*.ckpt"))
    if not last:
        raise ResumeError(
            f"resume={cfg.resume}: no last checkpoint under {run_dir}. The run was stopped "
            "before its first epoch ended; start it again without resume."
        )
    for path in last:
        if not zipfile.is_zipfile(path):  # torch.save's format; the full load comes later
            raise ResumeError(
                f"resume={cfg.resume}: {path} is truncated or corrupt. Start a new run from "
                "another checkpoint with ckpt_path=<file>, or start again without resume."
            )
    try:
        read_metrics(run_dir)
    except MetricsFileError as err:
        raise ResumeError(
            f"{err}. The checkpoint holds the run's state and the resume writes the record "
            f"anew: move {run_dir / METRICS_FILE} away, then resume again."
        ) from None
    return run_dir


def _check_same_model(cfg: DictConfig, choices: dict, run_dir: Path) -> None:
    saved = OmegaConf.load(run_dir / SAVED_CONFIG)
    saved_choices = _saved_choices(run_dir)
    differ = []
    for group in FIXED_GROUPS:
        old, new = saved_choices.get(group), choices.get(group)
        if old and new and old != new:
            differ.append(f"{group}={new} (the run's: {group}={old})")
    if not differ:
        differ = _differing_keys(saved, cfg)
    if differ:
        overrides = _saved_overrides(run_dir)
        raise ResumeError(
            f"resume={cfg.resume} holds a run of model={saved_choices.get('model', '?')} on "
            f"data={saved_choices.get('data', '?')} (its overrides: {overrides or 'none'}), but "
            f"this command changes what its checkpoint means: {'; '.join(differ)}. Resume with "
            "the run's own model and data settings, or start a new run (ckpt_path=<file> "
            "ckpt_weights_only=true to start from its weights)."
        )


def _differing_keys(saved: DictConfig, cfg: DictConfig) -> list[str]:
    pairs = [("model", saved.get("model"), cfg.get("model"))]
    pairs += [
        (
            f"data.{key}",
            OmegaConf.select(saved, f"data.{key}"),
            OmegaConf.select(cfg, f"data.{key}"),
        )
        for key in FIXED_DATA_KEYS
    ]
    differ = []
    for name, old, new in pairs:
        old_raw = OmegaConf.to_container(old) if OmegaConf.is_config(old) else old
        new_raw = OmegaConf.to_container(new) if OmegaConf.is_config(new) else new
        if old_raw != new_raw:
            differ.append(f"{name}={json.dumps(new_raw)} (the run's: {json.dumps(old_raw)})")
    return differ


def _saved_choices(run_dir: Path) -> dict:
    hydra_yaml = run_dir / ".hydra" / "hydra.yaml"
    if not hydra_yaml.is_file():
        return {}
    return dict(OmegaConf.select(OmegaConf.load(hydra_yaml), "hydra.runtime.choices") or {})


def _saved_overrides(run_dir: Path) -> str:
    path = run_dir / SAVED_OVERRIDES
    return " ".join(OmegaConf.load(path)) if path.is_file() else ""


def last_checkpoint(trainer) -> Path | None:
    """The newest ``last*.ckpt`` of the trainer's ModelCheckpoint callbacks."""
    found = [
        path
        for callback in trainer.checkpoint_callbacks
        if getattr(callback, "dirpath", None) and Path(callback.dirpath).is_dir()
        for path in Path(callback.dirpath).glob(
            f"{callback.CHECKPOINT_NAME_LAST}*{callback.FILE_EXTENSION}"
        )
    ]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def checkpoint_to_resume(cfg: DictConfig, trainer) -> str | None:
    """The checkpoint ``fit`` starts from: ``ckpt_path``, or with ``resume`` the run's last one.

    ``resume=<run dir>`` makes Hydra reuse that dir (see ``conf/hydra/default.yaml``), so the
    run goes on writing its checkpoints, TensorBoard logs and ``metrics.json`` there.
    """
    if cfg.get("ckpt_path"):
        path = Path(cfg.ckpt_path)
        if not path.is_file():
            raise ResumeError(f"ckpt_path={cfg.ckpt_path}: no such checkpoint file.")
        return str(path)
    if not cfg.get("resume"):
        return None
    run_dir = Path(cfg.resume).resolve()
    output_dir = Path(cfg.paths.output_dir).resolve()
    if output_dir != run_dir:
        raise ResumeError(
            f"resume={cfg.resume} continues that run dir, but paths.output_dir={output_dir}. "
            "Drop the paths.output_dir override: resume sets the run dir."
        )
    path = last_checkpoint(trainer)
    if path is None:
        raise ResumeError(
            f"resume={cfg.resume}: no last checkpoint under {run_dir}. Either the path is not a "
            "run dir or the run was stopped before its first epoch ended; start it again "
            "without resume."
        )
    log.info("Resuming from %s", path)
    return str(path)


def start_from(cfg: DictConfig, trainer, model) -> str | None:
    """The checkpoint for ``trainer.fit``; says what of it is restored.

    ``ckpt_path`` with ``ckpt_weights_only=true`` loads only the weights into ``model`` (a new
    optimizer, schedule and epoch count: fine-tuning) and returns None.
    """
    weights_only = bool(cfg.get("ckpt_weights_only"))
    if weights_only and not cfg.get("ckpt_path"):
        raise ResumeError(
            "ckpt_weights_only=true needs ckpt_path=<checkpoint file> (a resume= continues a "
            "run with its whole training state)."
        )
    path = checkpoint_to_resume(cfg, trainer)
    if path is None or not cfg.get("ckpt_path"):
        return path
    if weights_only:
        checkpoint = trainer.strategy.checkpoint_io.load_checkpoint(path)
        model.load_state_dict(checkpoint["state_dict"])
        log.info(
            "Starting from the weights of %s; the optimizer state, schedule and epoch count "
            "start anew (ckpt_weights_only=true)",
            path,
        )
        return None
    log.info(
        "Starting from %s with its optimizer state, scheduler state and epoch count restored; "
        "changed optimizer or scheduler settings apply from its next epoch. "
        "ckpt_weights_only=true loads the weights alone",
        path,
    )
    return path


class NothingTrained(RuntimeError):
    """``fit`` trained no batch: the result would be an untrained or unchanged net."""


def check_trained(cfg: DictConfig, trainer, batches_trained: int) -> None:
    """Raise :class:`NothingTrained` when ``fit`` trained no batch, saying why.

    A resume of a run that had trained all its epochs (it failed after fitting, say) is let
    through: it goes on to the test and the record.
    """
    if batches_trained:
        return
    done = trainer.current_epoch >= (trainer.max_epochs or 0) > 0
    if done and cfg.get("resume"):
        log.info("All %d epochs were trained; finishing the run", trainer.max_epochs)
        return
    if done:
        reason = (
            f"its checkpoint already reached trainer.max_epochs={trainer.max_epochs}; raise "
            "trainer.max_epochs to train on"
        )
    else:
        limit = OmegaConf.select(cfg, "trainer.limit_train_batches")
        reason = (
            f"there is no training batch (trainer.limit_train_batches={limit}, "
            f"{trainer.num_training_batches} batches); give it 1 or more batches, or a fraction > 0"
        )
    raise NothingTrained(f"The run trained no batch: {reason}. Nothing was tested.")
