"""The TensorBoard logger of a run: one event file from the first write to the end of the run."""

from __future__ import annotations

from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_only
from typing_extensions import override


class RunTensorBoardLogger(TensorBoardLogger):
    """A ``TensorBoardLogger`` whose event file stays open until :meth:`close`.

    Lightning finalizes its loggers at the end of every stage (fit, test), and a
    ``SummaryWriter`` written to after closing starts a new event file; so here finalizing
    only flushes, and ``train()`` closes the file once, after the last write of the run.
    """

    @override
    @rank_zero_only
    def finalize(self, status: str) -> None:
        if self._experiment is not None:
            self._experiment.flush()

    @rank_zero_only
    def close(self) -> None:
        """Write out and close the event file (and save ``hparams.yaml``)."""
        super().finalize("success")
