"""Checkpoint files that a kill never leaves half-written and that never unpickle code."""

from __future__ import annotations

import logging
import pickle
import shutil
import zipfile
from pathlib import Path
from typing import Any

import torch
from fsspec.implementations.local import LocalFileSystem
from lightning.fabric.utilities.cloud_io import get_filesystem
from lightning.pytorch.plugins.io import TorchCheckpointIO

from storage.run_files import atomic_writer, partial_files

log = logging.getLogger(__name__)


def _load_on_cpu(storage, location):  # TorchCheckpointIO's default map_location
    return storage


class CheckpointError(RuntimeError):
    """A checkpoint cannot be loaded; the message names the file and what to do."""


def check_checkpoint_file(path: str | Path, setting: str = "ckpt_path") -> None:
    """Raise :class:`CheckpointError` unless ``path`` is a whole torch archive, before a load
    whose own errors (``[Errno 22] Invalid argument`` for a cut-off file) name no cause.

    Args:
        path: the checkpoint file.
        setting: the setting that gave ``path``, named in the message.
    """
    path = Path(path)
    if not path.is_file():
        what = "a directory" if path.is_dir() else "no such file"
        raise CheckpointError(
            f"{setting}={path}: {what}; give the .ckpt file of a training run "
            "(<run dir>/checkpoints/*.ckpt)"
        )
    if not zipfile.is_zipfile(path):  # torch.save's format ends with the archive's directory
        raise CheckpointError(
            f"{setting}={path} is truncated or not a checkpoint ({path.stat().st_size} bytes, "
            "no complete torch archive); give another .ckpt file of the run, e.g. last.ckpt"
        )


class AtomicCheckpointIO(TorchCheckpointIO):
    """Saves through a temporary file in the checkpoint's own directory, fsynced, then renamed.

    Lightning's ``TorchCheckpointIO`` stages the file in the system temp dir: where that is
    another filesystem the final move is a copy that a kill can cut short, a killed save
    leaks a full-size temp file there, and nothing is fsynced. Here a save either replaces
    the file completely or leaves the previous one untouched.

    Loading is ``weights_only`` unless the caller explicitly asks otherwise, so a checkpoint
    from elsewhere cannot run code; everything this project stores loads that way.
    """

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options=None) -> None:
        if not isinstance(get_filesystem(path), LocalFileSystem):
            return super().save_checkpoint(checkpoint, path, storage_options)
        if storage_options is not None:
            raise TypeError(
                f"{type(self).__name__} takes no storage_options, got {storage_options}"
            )
        for stale in partial_files(path):  # left by a process killed while saving this file
            log.info("Removing %s, left by an interrupted save", stale)
            stale.unlink(missing_ok=True)
        try:
            with atomic_writer(path) as f:
                torch.save(checkpoint, f)
        except (OSError, RuntimeError) as err:  # torch reports a failed write as RuntimeError
            free_mb = shutil.disk_usage(Path(path).parent).free / 2**20
            raise CheckpointError(
                f"Could not save checkpoint {path} ({free_mb:.0f} MB free on its disk): {err}\n"
                f"The previous {Path(path).name}, if any, is intact. Free some space, then "
                "continue the run with resume=<its run dir>."
            ) from err

    def load_checkpoint(self, path, map_location=_load_on_cpu, weights_only=None):
        weights_only = True if weights_only is None else weights_only
        try:
            return super().load_checkpoint(
                path, map_location=map_location, weights_only=weights_only
            )
        except FileNotFoundError:
            raise
        except (RuntimeError, pickle.UnpicklingError, EOFError, ValueError) as err:
            others = sorted(p.name for p in Path(path).parent.glob("*.ckpt") if p != Path(path))
            raise CheckpointError(
                f"Cannot load checkpoint {path}: {type(err).__name__}: {str(err).splitlines()[0]}\n"
                "It is truncated or corrupt, or it holds Python objects that weights-only "
                "loading refuses to unpickle. Resume from another checkpoint with "
                f"ckpt_path=<file> (others in its dir: {others or 'none'}), or start a new run."
            ) from err
