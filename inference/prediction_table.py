"""A classifier's predictions on files: rows of the top-k classes, ``predictions.csv`` and the
console table."""

from __future__ import annotations

import csv
import io
import logging
import os
from pathlib import Path

import torch

from storage.run_files import atomic_write_bytes

log = logging.getLogger(__name__)

PREDICTIONS_FILE = "predictions.csv"
SHOWN_ROWS = 20  # rows of the table printed to the console


def shown(path: str | os.PathLike) -> str:
    """``path`` printable: bytes that are not UTF-8 (kept by Python as surrogates) as ``\\xNN``."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def top_k_rows(
    paths: list[Path], logits: torch.Tensor, class_names: list[str], k: int, warnings: list[str]
) -> list[dict]:
    """One row per file: ``file``, ``class_i`` and ``prob_i`` for the ``k`` likeliest classes,
    then ``warning`` (empty, or why the input is doubtful)."""
    names = class_names or [str(i) for i in range(logits.shape[1])]
    probs, indices = logits.softmax(dim=1).topk(min(k, logits.shape[1]), dim=1)
    rows = []
    for path, p, idx, warning in zip(
        paths, probs.tolist(), indices.tolist(), warnings, strict=True
    ):
        row = {"file": str(path)}
        for rank, (prob, index) in enumerate(zip(p, idx, strict=True), start=1):
            row[f"class_{rank}"] = names[index]
            row[f"prob_{rank}"] = f"{prob:.4f}"
        row["warning"] = warning
        rows.append(row)
    return rows


def write_csv(path: Path, rows: list[dict]) -> None:
    """``rows`` as CSV in UTF-8; a file name that is not UTF-8 keeps its own bytes
    (``surrogateescape``), so it names the file exactly."""
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_bytes(path, text.getvalue().encode("utf-8", "surrogateescape"))
    log.info("Predictions for %d files written to %s", len(rows), path)


def print_table(rows: list[dict]) -> None:
    files = [shown(row["file"]) for row in rows]
    width = min(max(len(file) for file in files), 60)
    for file, row in zip(files[:SHOWN_ROWS], rows, strict=False):
        flag = f"  ({row['warning']})" if row["warning"] else ""
        print(f"{file[-width:]:<{width}}  {row['class_1']}  {row['prob_1']}{flag}")
    if len(rows) > SHOWN_ROWS:
        print(f"... {len(rows) - SHOWN_ROWS} more in {PREDICTIONS_FILE}")
