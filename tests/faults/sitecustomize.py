"""Faults injected into ``python train.py`` by the tests; Python runs this file at start-up
when this directory is on PYTHONPATH. Each fault is switched on by an environment variable:

- ``FAULT_KILL_AFTER_STEP=n``: SIGKILL the process right after its n-th optimizer step.
- ``FAULT_SIGNAL_AFTER_STEP=n:NAME``: send itself signal NAME (SIGTERM, SIGINT) after step n.
- ``FAULT_DISK_FULL_FOR=name``: the disk is full for files named ``name`` (a figure written
  after fitting, say), temporary files of that name included.
- ``FAULT_KILL_IN_SAVE=n``: on the n-th save of ``last.ckpt``, write half of it, then SIGKILL.
- ``FAULT_DISK_FULL_IN_SAVE=n``: the disk fills up half-way through the n-th save of ``last.ckpt``.
"""

import errno
import io
import os
import signal


def _kill_self() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _signal_after_step(n: int, signum: int) -> None:
    from torch.optim.optimizer import register_optimizer_step_post_hook

    steps = 0

    def hook(optimizer, args, kwargs) -> None:
        nonlocal steps
        steps += 1
        if steps == n:
            os.kill(os.getpid(), signum)

    register_optimizer_step_post_hook(hook)


def _disk_full_for(name: str) -> None:
    """Writes to files named ``name`` fail with ENOSPC (as atomic_writer's temp files)."""
    import builtins

    real_open = builtins.open

    def open_(file, mode="r", *args, **kwargs):
        base = os.path.basename(str(file))
        if "w" in mode and (base == name or base.startswith(f".{name}.")):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(file))
        return real_open(file, mode, *args, **kwargs)

    builtins.open = open_


class _DiskFillsUp:
    """A file whose disk is full once ``capacity`` bytes are written to it."""

    def __init__(self, file, capacity: int) -> None:
        self.file, self.capacity = file, capacity

    def write(self, data) -> int:
        if self.file.tell() + len(data) > self.capacity:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return self.file.write(data)

    def __getattr__(self, name):
        return getattr(self.file, name)


def _break_nth_save(n: int, kill: bool) -> None:
    """Make the n-th ``torch.save`` into a file named like last.ckpt stop half-way:
    killed after half its bytes are on disk, or failing as a full disk would."""
    import torch

    save = torch.save
    saves = 0

    def half_save(obj, f, *args, **kwargs):
        nonlocal saves
        if "last.ckpt" in os.path.basename(str(getattr(f, "name", f))):
            saves += 1
            if saves == n:
                buffer = io.BytesIO()
                save(obj, buffer, *args, **kwargs)
                half = len(buffer.getvalue()) // 2
                if not kill:
                    return save(obj, _DiskFillsUp(f, half), *args, **kwargs)
                f.write(buffer.getvalue()[:half])
                f.flush()
                os.fsync(f.fileno())
                _kill_self()
        return save(obj, f, *args, **kwargs)

    torch.save = half_save


if os.environ.get("FAULT_KILL_AFTER_STEP"):
    _signal_after_step(int(os.environ["FAULT_KILL_AFTER_STEP"]), signal.SIGKILL)
if os.environ.get("FAULT_SIGNAL_AFTER_STEP"):
    _step, _name = os.environ["FAULT_SIGNAL_AFTER_STEP"].split(":")
    _signal_after_step(int(_step), signal.Signals[_name])
if os.environ.get("FAULT_DISK_FULL_FOR"):
    _disk_full_for(os.environ["FAULT_DISK_FULL_FOR"])
if os.environ.get("FAULT_KILL_IN_SAVE"):
    _break_nth_save(int(os.environ["FAULT_KILL_IN_SAVE"]), kill=True)
if os.environ.get("FAULT_DISK_FULL_IN_SAVE"):
    _break_nth_save(int(os.environ["FAULT_DISK_FULL_IN_SAVE"]), kill=False)
