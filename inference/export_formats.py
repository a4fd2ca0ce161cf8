"""Export a checkpoint's model for use without this project: ONNX or TorchScript.

The exported model takes images as floats in [0, 1], ``[batch, channels, height, width]``
(any batch size), and applies the checkpoint's input normalisation itself; a classifier
returns class scores (logits), a VAE its reconstructions.
"""

from __future__ import annotations

import io
import logging
import warnings
from pathlib import Path

import torch
from omegaconf import DictConfig
from torch import nn

from inference import loading
from lightning_modules.data.images import InputSpec
from storage.run_files import atomic_write_bytes
from training.validate import ConfigError

log = logging.getLogger(__name__)

SUFFIXES = {"onnx": ".onnx", "torchscript": ".pt"}
INPUT_NAME = "images"
OUTPUT_NAME = "outputs"


class Deployed(nn.Module):
    """``model`` behind its input normalisation: takes images in [0, 1]."""

    def __init__(self, model: nn.Module, spec: InputSpec) -> None:
        super().__init__()
        self.model = model
        self.normalize = spec.normalize
        self.mean = spec.mean
        self.std = spec.std

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if self.normalize:
            images = (images - self.mean) / self.std
        return self.model(images)


def output_path(cfg: DictConfig) -> Path:
    if cfg.format not in SUFFIXES:
        raise ConfigError(f"format={cfg.format!r}; use one of {list(SUFFIXES)}")
    if cfg.get("output"):
        return Path(cfg.output)
    return Path(cfg.ckpt_path).with_suffix(SUFFIXES[cfg.format])


def export(cfg: DictConfig) -> Path:
    """Write ``cfg.ckpt_path``'s model in ``cfg.format`` to ``cfg.output`` (default: beside it)."""
    path = output_path(cfg)
    loaded = loading.load(cfg.ckpt_path)
    # The LightningModule's forward is its net's; the net traces without a Trainer around it.
    model = Deployed(loaded.module.net, loaded.spec).eval()
    example = torch.rand(2, *loaded.spec.shape, generator=torch.Generator().manual_seed(0))
    buffer = io.BytesIO()
    with torch.no_grad():
        if cfg.format == "onnx":
            torch.onnx.export(
                model,
                (example,),
                buffer,
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
                dynamo=False,  # the TorchScript-based exporter: no onnxscript needed
            )
        else:
            with warnings.catch_warnings():  # deprecated in torch, still what deploys without it
                warnings.simplefilter("ignore", FutureWarning)
                torch.jit.save(torch.jit.trace(model, example), buffer)
    atomic_write_bytes(path, buffer.getvalue())  # never a half-written model under its name
    log.info("Exported %s to %s", cfg.format, path)
    return path
