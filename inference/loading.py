"""A trained model rebuilt from its checkpoint file alone, and the data fitted to it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from lightning_modules.data.images import ImageTransform, InputSpec
from storage.checkpoint_io import CheckpointError, check_checkpoint_file
from training.checkpoint_description import read_description


@dataclass
class LoadedModel:
    """A model rebuilt from its checkpoint, in eval mode on the CPU, with its input settings."""

    module: Any
    spec: InputSpec
    path: Path

    def transform(self, invert: str = "auto") -> ImageTransform:
        """PIL image -> the model's input tensor, as its training data looked."""
        return ImageTransform(self.spec, invert)


def load(path: str | Path) -> LoadedModel:
    """Rebuild the model saved at ``path`` from that file alone (weights-only); a missing,
    truncated or undescribed file is a :class:`CheckpointError` naming it."""
    from hydra.utils import get_class

    check_checkpoint_file(path)
    try:
        module_class, spec = read_description(path)
    except ValueError as err:  # unreadable, or written without the model's description
        raise CheckpointError(str(err)) from err
    module = get_class(module_class).load_from_checkpoint(
        path, map_location="cpu", weights_only=True
    )
    module.eval()
    return LoadedModel(module=module, spec=spec, path=Path(path))


def check_fits(spec: InputSpec, datamodule, data_name: str) -> None:
    """Raise when the data's images or classes do not fit the checkpoint's model, naming both."""
    images, _ = next(iter(datamodule.splits.values()))
    shape = tuple(images.shape[1:])
    if shape != spec.shape:
        raise ValueError(
            f"data={data_name} gives images of shape {list(shape)} (channels, height, width), but "
            f"the checkpoint's model takes {list(spec.shape)}; set data.channels="
            f"{spec.channels} data.image_size={spec.image_size} or use another checkpoint"
        )
    names = [str(name) for name in datamodule.class_names]
    if spec.class_names and len(names) != len(spec.class_names):
        raise ValueError(
            f"data={data_name} has {len(names)} classes {names}, but the checkpoint's model "
            f"knows {len(spec.class_names)}: {spec.class_names}"
        )


def use_input_settings(data_cfg: DictConfig, spec: InputSpec) -> None:
    """Make the data config scale images as the checkpoint's model was trained to see them."""
    for key in ("normalize", "mean", "std"):
        if key in data_cfg:
            data_cfg[key] = getattr(spec, key)
