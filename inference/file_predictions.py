"""Predict on image files with a trained checkpoint: class scores, or VAE reconstructions."""

from __future__ import annotations

import glob
import io
import logging
from pathlib import Path

import torch
from omegaconf import DictConfig

from inference import loading
from inference.input_warnings import input_warnings
from inference.prediction_table import PREDICTIONS_FILE, print_table, shown, top_k_rows, write_csv
from lightning_modules.data.images import ImageTransform, invert_choice
from lightning_modules.protocols import Classifier, Generative
from storage.run_files import atomic_write_bytes
from training.validate import ConfigError

log = logging.getLogger(__name__)

RECONSTRUCTIONS_DIR = "reconstructions"
SAMPLES_DIR = "samples"
SKIPPED_EXIT_CODE = 3  # the exit status when some input files could not be read


class NoInputsError(ConfigError):
    """``inputs`` names no file, or no image."""


def checked_invert(invert: str | bool) -> str:
    try:
        return invert_choice(invert)
    except ValueError as err:
        raise ConfigError(str(err)) from err


def check_top_k(top_k, num_classes: int) -> None:
    """Raise :class:`ConfigError` unless ``1 <= top_k <= num_classes``."""
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= num_classes:
        raise ConfigError(
            f"top_k={top_k!r}: must be an integer in [1, {num_classes}], the number of classes "
            "of the checkpoint's model"
        )


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


def read_images(paths: list[Path], transform: ImageTransform):
    """The readable files, their uint8 images stacked, a warning (or "") for each of them, and
    a message for each skipped file."""
    from PIL import Image

    kept, images, warnings, skipped = [], [], [], []
    for path in paths:
        try:
            with Image.open(path) as image:
                decoded = transform.decode(image)
        except (OSError, ValueError, Image.DecompressionBombError) as err:
            skipped.append(f"{shown(path)}: not a readable image ({type(err).__name__}: {err})")
            log.warning("Skipped %s", skipped[-1])
            continue
        kept.append(path)
        images.append(transform.fit(decoded))
        warnings.append("; ".join(input_warnings(decoded)))
        if warnings[-1]:
            log.warning("%s %s; its prediction means little", shown(path), warnings[-1])
    return kept, torch.stack(images) if images else torch.empty(0), warnings, skipped


def predict(cfg: DictConfig) -> dict:
    """Predict on ``cfg.inputs`` with ``cfg.ckpt_path``; writes into the run dir and returns
    a summary (``skipped`` lists the files that could not be read)."""
    invert = checked_invert(cfg.invert)
    paths = collect_inputs(str(cfg.inputs))
    loaded = loading.load(cfg.ckpt_path)
    if isinstance(loaded.module, Classifier) and loaded.spec.class_names:
        check_top_k(cfg.top_k, len(loaded.spec.class_names))
    transform = loaded.transform(invert)
    kept, images, warnings, skipped = read_images(paths, transform)
    if not kept:
        raise NoInputsError(
            f"None of the {len(paths)} files of inputs={cfg.inputs!r} is a readable image; "
            "give image files (PNG, JPEG, BMP, TIFF, ...)"
        )
    run_dir = Path(cfg.paths.output_dir)
    module = loaded.module
    with torch.no_grad():
        outputs = torch.cat(
            [module(transform.to_model_input(chunk)) for chunk in images.split(cfg.batch_size)]
        )
    if isinstance(module, Classifier):
        rows = top_k_rows(kept, outputs, loaded.spec.class_names, cfg.top_k, warnings)
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


def save_png(image: torch.Tensor, path: Path) -> None:
    """A float image ``[C, H, W]`` in [0, 1] as a PNG, written atomically."""
    from PIL import Image

    array = image.clamp(0, 1).mul(255).round().to(torch.uint8).cpu().numpy()
    picture = Image.fromarray(array[0] if array.shape[0] == 1 else array.transpose(1, 2, 0))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    atomic_write_bytes(path, buffer.getvalue())
