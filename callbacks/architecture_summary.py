"""Per-layer table of the net (layer, shapes, parameters), printed and saved in the run dir
(as text and as JSON)."""

from __future__ import annotations

from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import RichModelSummary
from lightning.pytorch.utilities.model_summary import summarize
from typing_extensions import override

from storage.run_files import atomic_write_bytes, write_json

ARCHITECTURE_FILE = "architecture.txt"
# The same rows, machine-readable: name, type, params, in_size, out_size.
ARCHITECTURE_JSON = "architecture.json"


class ArchitectureSummary(RichModelSummary):
    """Prints Lightning's model summary with rich and writes it as text to ``architecture.txt``.

    The module's ``example_input_array`` adds input and output shapes to every layer.
    """

    @override
    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_fit_start(trainer, pl_module)
        if trainer.is_global_zero:
            summary = summarize(pl_module, max_depth=self._max_depth)
            run_dir = Path(trainer.default_root_dir)
            atomic_write_bytes(run_dir / ARCHITECTURE_FILE, str(summary).encode())
            write_json(run_dir / ARCHITECTURE_JSON, layer_rows(summary))


def layer_rows(summary) -> list[dict]:
    """One dict per layer of a Lightning ``ModelSummary``; sizes are lists, or "?" if unknown."""
    columns = zip(
        summary.layer_names,
        summary.layer_types,
        summary.param_nums,
        summary.in_sizes,
        summary.out_sizes,
        strict=True,
    )
    return [
        {"name": name, "type": kind, "params": int(params), "in_size": ins, "out_size": outs}
        for name, kind, params, ins, outs in columns
    ]
