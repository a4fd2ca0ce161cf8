"""Per-layer table of the net (layer, shapes, parameters), printed and saved in the run dir."""

from __future__ import annotations

from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import RichModelSummary
from lightning.pytorch.utilities.model_summary import summarize
from typing_extensions import override

from storage.run_files import atomic_write_bytes

ARCHITECTURE_FILE = "architecture.txt"


class ArchitectureSummary(RichModelSummary):
    """Prints Lightning's model summary with rich and writes it as text to ``architecture.txt``.

    The module's ``example_input_array`` adds input and output shapes to every layer.
    """

    @override
    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_fit_start(trainer, pl_module)
        if trainer.is_global_zero:
            table = str(summarize(pl_module, max_depth=self._max_depth))
            atomic_write_bytes(Path(trainer.default_root_dir) / ARCHITECTURE_FILE, table.encode())
