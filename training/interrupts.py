"""SIGINT and SIGTERM stop a run as ``interrupted`` and exit as shells expect (130, 143)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from storage.run_files import INTERRUPTED

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(BaseException):
    """Raised by a stopping signal; a BaseException, so ``except Exception`` lets it through.

    Not a ``KeyboardInterrupt``: Lightning turns that into ``sys.exit(1)``.
    """

    status = INTERRUPTED

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.exit_code = 128 + signum  # the shell's code for a process ended by the signal
        super().__init__(
            f"Stopped by {signal.Signals(signum).name}; the last finished epoch's checkpoint is "
            "kept: continue with the same command plus resume=<run dir>."
        )


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Turn the first SIGINT or SIGTERM into :class:`Interrupted`; later ones wait for the
    cleanup (the run's record) to finish. Only the main thread can install handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def handler(signum, frame) -> None:
        if not received:
            received.append(signum)
            raise Interrupted(signum)

    previous = {signum: signal.signal(signum, handler) for signum in SIGNALS}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
