"""Files a run writes into its run dir, written so that a kill never leaves half a file."""

from __future__ import annotations

import errno
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

METRICS_FILE = "metrics.json"
# A run's "status" in its metrics.json.
RUNNING = "running"
COMPLETED = "completed"  # fitted and tested
FAILED = "failed"
DIVERGED = "diverged"  # its loss turned NaN or infinite
INTERRUPTED = "interrupted"  # stopped by SIGINT or SIGTERM, resumable
# In a sweep dir: the job dirs that an earlier sweep into the same dir left.
EARLIER_JOBS_FILE = ".earlier_jobs.json"
PARTIAL_SUFFIX = ".part"
# mkstemp creates files as 0600; finished files get the usual permissions instead.
_UMASK = os.umask(0)
os.umask(_UMASK)


@contextmanager
def atomic_writer(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """Open a temporary file next to ``path``; on success it replaces ``path`` in one step.

    The temporary file sits in the same directory (so the final rename never crosses a
    filesystem), is fsynced before the rename, and the directory after it, so a kill or
    power loss leaves either the old file or the new one, never half of one.
    """
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=PARTIAL_SUFFIX, dir=path.parent)
        os.fchmod(fd, 0o666 & ~_UMASK)
        os.close(fd)
        with open(tmp, "wb") as f:  # by name, so errors and f.name say which file
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        if isinstance(err, OSError) and err.errno in _DISK_FULL:
            raise DiskFullError(path, err) from err
        raise
    _fsync_dir(path.parent)


_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


class DiskFullError(OSError):
    """A file could not be written for lack of space; names the file and the space left."""

    def __init__(self, path: Path, cause: OSError) -> None:
        try:
            free = f"{shutil.disk_usage(path.parent).free / 2**20:.0f} MB free"
        except OSError:
            free = "free space unknown"
        super().__init__(
            cause.errno,
            f"Could not write {path}: {cause.strerror} ({free} on its disk). The previous "
            f"{path.name}, if any, is intact. Free some space; a stopped run goes on with "
            "resume=<its run dir>",
        )


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # not every platform can open a directory
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def partial_files(path: str | os.PathLike) -> list[Path]:
    """Temporary files that :func:`atomic_writer` left for ``path`` when its process was killed."""
    path = Path(path)
    return sorted(path.parent.glob(f".{path.name}.*{PARTIAL_SUFFIX}"))


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_writer(path) as f:
        f.write(data)


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:  # 0-d tensors and numpy scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no NaN/inf
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def write_json(path: str | os.PathLike, data: Any) -> None:
    """``data`` as indented JSON, atomically; NaN and infinities become strings."""
    atomic_write_bytes(path, (json.dumps(_jsonable(data), indent=2) + "\n").encode())


class MetricsFileError(ValueError):
    """A ``metrics.json`` cannot be read; the message names the file."""


def read_metrics(run_dir: str | os.PathLike) -> dict[str, Any]:
    """The run's ``metrics.json`` ({} when there is none); :class:`MetricsFileError` if corrupt."""
    path = Path(run_dir) / METRICS_FILE
    if not path.exists():
        return {}
    try:
        metrics = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise MetricsFileError(f"Cannot read {path}: {type(err).__name__}: {err}") from err
    if not isinstance(metrics, dict):
        raise MetricsFileError(f"Cannot read {path}: it holds no JSON object")
    return metrics


def update_metrics(
    run_dir: str | os.PathLike, entries: dict[str, Any], fresh: bool = False
) -> dict[str, Any]:
    """Merge ``entries`` into ``<run_dir>/metrics.json`` (atomically) and return the result;
    ``fresh`` replaces the file's entries instead."""
    metrics = {} if fresh else read_metrics(run_dir)
    metrics.update(_jsonable(entries))
    text = json.dumps(metrics, indent=2, sort_keys=True) + "\n"
    atomic_write_bytes(Path(run_dir) / METRICS_FILE, text.encode())
    return metrics


def save_figure(figure, path: str | os.PathLike, dpi: int = 120) -> Path:
    """Save a matplotlib figure as PNG atomically."""
    import io

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    atomic_write_bytes(path, buffer.getvalue())
    return Path(path)


def save_png(pixels, path: str | os.PathLike) -> Path:
    """Save ``[H, W, 3]`` RGB or ``[H, W]`` grey uint8 pixels (e.g. a drawn figure) as PNG
    atomically."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="png")
    atomic_write_bytes(path, buffer.getvalue())
    return Path(path)


def earlier_jobs(sweep_dir: str | os.PathLike) -> set[str]:
    """Names of the job dirs in ``sweep_dir`` that belong to an earlier sweep into it."""
    path = Path(sweep_dir) / EARLIER_JOBS_FILE
    return set(json.loads(path.read_text())) if path.exists() else set()


def write_earlier_jobs(sweep_dir: str | os.PathLike, names: list[str]) -> None:
    atomic_write_bytes(Path(sweep_dir) / EARLIER_JOBS_FILE, json.dumps(sorted(names)).encode())
