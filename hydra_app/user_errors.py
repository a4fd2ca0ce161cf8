"""One way every entry point reports a user's mistake: a line naming the problem and the fix,
exit status 1, no traceback (``HYDRA_FULL_ERROR=1`` shows it). Other exceptions are bugs and
keep their tracebacks."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import TypeVar

Result = TypeVar("Result")


def known_errors() -> tuple[type[Exception], ...]:
    """The errors whose message names what to change; imported when one is raised, so that
    ``--help`` needs no torch."""
    from omegaconf.errors import MissingMandatoryValue

    from lightning_modules.data.files import DatasetError
    from storage.checkpoint_io import CheckpointError
    from storage.run_files import DiskFullError, MetricsFileError
    from training.preflight import OutputDirError
    from training.resume import NothingTrained, ResumeError
    from training.run_dir import RunDirError
    from training.validate import ConfigError

    return (
        CheckpointError,
        ConfigError,
        DatasetError,
        DiskFullError,
        MetricsFileError,
        MissingMandatoryValue,  # a required setting (``???``) not given
        NothingTrained,
        OutputDirError,
        ResumeError,
        RunDirError,
    )


def one_line(err: Exception) -> str:
    """``Error: <Type>: <message>``, the message's lines joined."""
    from omegaconf.errors import MissingMandatoryValue

    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    if isinstance(err, MissingMandatoryValue):  # its other lines are OmegaConf's context
        lines = [f"{lines[0]}; give it on the command line: {err.full_key}=<value>"]
    return f"Error: {type(err).__name__}: {' '.join(lines)}"


def reported(task: Callable[..., Result]) -> Callable[..., Result]:
    """``task`` (a ``@hydra.main`` function) with its known errors ending the process as one
    line on stderr and exit status 1; put it under ``@hydra.main``."""

    @functools.wraps(task)
    def wrapper(*args, **kwargs) -> Result:
        try:
            return task(*args, **kwargs)
        except Exception as err:
            if os.environ.get("HYDRA_FULL_ERROR") == "1" or not isinstance(err, known_errors()):
                raise
            sys.exit(one_line(err))

    return wrapper
