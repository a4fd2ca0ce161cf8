"""A run dir belongs to one run: an exclusive lock naming its holder; no new run over an old one."""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from storage.run_files import METRICS_FILE
from training.run_record import rank

LOCK_FILE = ".run.lock"
CHECKPOINT_DIR = "checkpoints"
_held: dict[Path, int] = {}  # run dir -> lock file descriptor, held until the process ends


class RunDirError(RuntimeError):
    """The run dir is in use or holds another run; the message says what to pass instead."""


def holds_run(run_dir: str | os.PathLike) -> bool:
    """Whether a run already wrote its record or checkpoints into ``run_dir``."""
    run_dir = Path(run_dir)
    checkpoints = run_dir / CHECKPOINT_DIR
    return (run_dir / METRICS_FILE).exists() or (
        checkpoints.is_dir() and any(checkpoints.iterdir())
    )


def holder(run_dir: str | os.PathLike) -> str:
    """The pid written into ``run_dir``'s lock file by the process that holds it."""
    try:
        return (Path(run_dir) / LOCK_FILE).read_text().strip() or "unknown"
    except OSError:
        return "unknown"


def claim(run_dir: str | os.PathLike, resume: bool = False) -> None:
    """Take ``run_dir`` for this process, or raise :class:`RunDirError`.

    A second process on the same dir is refused at once, naming the holder's pid; a new run
    into a dir that holds a run is refused unless it is a resume. Idempotent in one process.
    The lock is released by the operating system when the process ends, however it ends.
    """
    run_dir = Path(run_dir).resolve()
    if run_dir in _held or rank() != 0:  # DDP ranks share rank 0's dir
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(run_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        os.close(fd)
        if err.errno not in (errno.EAGAIN, errno.EACCES):
            raise
        raise RunDirError(
            f"The run dir {run_dir} is in use by another run (pid {holder(run_dir)}). Wait for "
            "it to end, or give this run another dir (hydra.run.dir=<dir>)."
        ) from None
    if not resume and holds_run(run_dir):
        os.close(fd)
        raise RunDirError(
            f"The run dir {run_dir} already holds a run. Continue it with resume={run_dir}, "
            "or give this run another dir (hydra.run.dir=<dir>)."
        )
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    _held[run_dir] = fd


@contextmanager
def owned(run_dir: str | os.PathLike, resume: bool = False) -> Iterator[None]:
    """:func:`claim` ``run_dir`` for the ``with`` block (a run called in-process: tests)."""
    claim(run_dir, resume)
    try:
        yield
    finally:
        release(run_dir)


def release(run_dir: str | os.PathLike) -> None:
    """Give up this process's lock on ``run_dir`` (a process that ends releases it anyway)."""
    fd = _held.pop(Path(run_dir).resolve(), None)
    if fd is not None:
        os.close(fd)
