"""Continue a killed run in its own run dir: repeat its command and add ``resume=<run dir>``."""

from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import DictConfig

log = logging.getLogger(__name__)


class ResumeError(ValueError):
    """``resume``/``ckpt_path`` point at no usable checkpoint; the message says what to pass."""


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
