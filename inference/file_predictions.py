"""Predict on image files with a trained checkpoint: class scores, or VAE reconstructions."""

from __future__ import annotations

import csv
import glob
import io
import logging
from pathlib import Path

import torch
from omegaconf import DictConfig

from inference import loading
from lightning_modules.protocols import Classifier, Generative
from storage.run_files import atomic_write_bytes

log = logging.getLogger(__name__)

PREDICTIONS_FILE = "predictions.csv"
RECONSTRUCTIONS_DIR = "reconstructions"
SAMPLES_DIR = "samples"
SKIPPED_EXIT_CODE = 3  # the exit status when some input files could not be read
SHOWN_ROWS = 20  # rows of the table printed to the console


class NoInputsError(ValueError):
    """``inputs`` names no file."""


def collect_inputs(inputs: str) -> list[Path]:
    """The files ``inputs`` names: one file, every file under a folder, or a glob's matches."""
    path = Path(inputs).expanduser()
    if path.is_file():
        return [path]
    if path.is_dir():
        found = [p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")]
    else:
        found = [Path(p) for p in glob.glob(str(path), recursive=True) if Path(p).is_file()]
    if not found:
        raise NoInputsError(
            f"inputs={inputs!r} names no file; give an image file, a folder of images or a "
            "quoted glob such as 'photos/*.jpg'"
        )
    return sorted(found)


def read_images(paths: list[Path], transform) -> tuple[list[Path], torch.Tensor, list[str]]:
    """The readable files, their uint8 images stacked, and a message for each skipped file."""
    from PIL import Image

    kept, images, skipped = [], [], []
    for path in paths:
        try:
            with Image.open(path) as image:
                images.append(transform.to_uint8(image))
        except (OSError, ValueError, Image.DecompressionBombError) as err:
            skipped.append(f"{path}: not a readable image ({type(err).__name__}: {err})")
            log.warning("Skipped %s", skipped[-1])
            continue
        kept.append(path)
    return kept, torch.stack(images) if images else torch.empty(0), skipped


def predict(cfg: DictConfig) -> dict:
    """Predict on ``cfg.inputs`` with ``cfg.ckpt_path``; writes into the run dir and returns
    a summary (``skipped`` lists the files that could not be read)."""
    paths = collect_inputs(str(cfg.inputs))
    loaded = loading.load(cfg.ckpt_path)
    transform = loaded.transform(cfg.invert)
    kept, images, skipped = read_images(paths, transform)
    if not kept:
        raise NoInputsError(f"None of the {len(paths)} files of inputs={cfg.inputs!r} is an image")
    run_dir = Path(cfg.paths.output_dir)
    module = loaded.module
    with torch.no_grad():
        outputs = torch.cat(
            [module(transform.to_model_input(chunk)) for chunk in images.split(cfg.batch_size)]
        )
    if isinstance(module, Classifier):
        rows = top_k_rows(kept, outputs, loaded.spec.class_names, cfg.top_k)
        write_csv(run_dir / PREDICTIONS_FILE, rows)
        print_table(rows)
    elif isinstance(module, Generative):
        for i, (path, image) in enumerate(zip(kept, outputs, strict=True)):
            save_png(image, run_dir / RECONSTRUCTIONS_DIR / f"{i:04d}_{path.stem}.png")
        generator = torch.Generator().manual_seed(cfg.seed)
        with torch.no_grad():
            samples = module.sample(cfg.samples, generator)
        for i, image in enumerate(samples):
            save_png(image, run_dir / SAMPLES_DIR / f"sample_{i:03d}.png")
        log.info("Reconstructions and %d samples written under %s", cfg.samples, run_dir)
    return {"predicted": len(kept), "skipped": skipped}


def top_k_rows(paths: list[Path], logits: torch.Tensor, class_names: list[str], k: int):
    """One row per file: ``file``, then ``class_i`` and ``prob_i`` for the ``k`` likeliest."""
    names = class_names or [str(i) for i in range(logits.shape[1])]
    probs, indices = logits.softmax(dim=1).topk(min(k, logits.shape[1]), dim=1)
    rows = []
    for path, p, idx in zip(paths, probs.tolist(), indices.tolist(), strict=True):
        row = {"file": str(path)}
        for rank, (prob, index) in enumerate(zip(p, idx, strict=True), start=1):
            row[f"class_{rank}"] = names[index]
            row[f"prob_{rank}"] = f"{prob:.4f}"
        rows.append(row)
    return rows


def write_csv(path: Path, rows: list[dict]) -> None:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_bytes(path, text.getvalue().encode())
    log.info("Predictions for %d files written to %s", len(rows), path)


def print_table(rows: list[dict]) -> None:
    width = min(max(len(row["file"]) for row in rows), 60)
    for row in rows[:SHOWN_ROWS]:
        print(f"{row['file'][-width:]:<{width}}  {row['class_1']}  {row['prob_1']}")
    if len(rows) > SHOWN_ROWS:
        print(f"... {len(rows) - SHOWN_ROWS} more in {PREDICTIONS_FILE}")


def save_png(image: torch.Tensor, path: Path) -> None:
    """A float image ``[C, H, W]`` in [0, 1] as a PNG, written atomically."""
    from PIL import Image

    array = image.clamp(0, 1).mul(255).round().to(torch.uint8).cpu().numpy()
    picture = Image.fromarray(array[0] if array.shape[0] == 1 else array.transpose(1, 2, 0))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    atomic_write_bytes(path, buffer.getvalue())
