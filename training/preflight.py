"""Checks on the output dir that fail in a second instead of at the first checkpoint."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path


class OutputDirError(OSError):
    """The run dir cannot be written or its disk is nearly full; the message says what to change."""


def check_output_dir(run_dir: str | Path, min_free_mb: float) -> None:
    """Raise :class:`OutputDirError` unless ``run_dir`` is writable with ``min_free_mb`` free."""
    run_dir = Path(run_dir)
    move = "Point the run elsewhere with hydra.run.dir=<dir> (or paths.log_dir=<dir>)."
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=run_dir) as probe:
            probe.write(b"0")
            probe.flush()
    except OSError as err:
        raise OutputDirError(f"Cannot write to the output dir {run_dir}: {err}. {move}") from err
    if not isinstance(min_free_mb, (int, float)):  # training.validate reports the bad value
        return
    free_mb = shutil.disk_usage(run_dir).free / 2**20
    if free_mb < min_free_mb:
        raise OutputDirError(
            f"Only {free_mb:.0f} MB free on the disk of the output dir {run_dir}, less than "
            f"min_free_disk_mb={min_free_mb} (checkpoints, logs and figures need room). "
            f"Free some space, or: {move}"
        )
