"""Self-describing checkpoints: the net's config and the data settings a model was trained with
travel in its ``hyper_parameters`` as plain values, so the checkpoint file alone rebuilds the
model and its input transform, loaded weights-only."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from lightning_modules.data.images import InputSpec

# Keys under the checkpoint's "hyper_parameters".
NET_KEY = "net"
DATA_KEY = "data"
MODULE_KEY = "module_class"
CLASS_NAMES_KEY = "class_names"  # in metrics.json
# Fashion-MNIST's shape, for data configs that do not say (the IDX datasets).
DEFAULT_CHANNELS = 1
DEFAULT_IMAGE_SIZE = 28


def input_spec(cfg: DictConfig, datamodule) -> InputSpec:
    """The input settings of a run: class names from the data module, the rest from ``cfg``."""
    return InputSpec(
        class_names=[str(name) for name in datamodule.class_names],
        channels=int(cfg.data.get("channels", DEFAULT_CHANNELS)),
        image_size=int(cfg.data.get("image_size", DEFAULT_IMAGE_SIZE)),
        normalize=bool(datamodule.normalize),
        mean=float(datamodule.mean),
        std=float(datamodule.std),
    )


def describe(model, cfg: DictConfig, datamodule) -> None:
    """Put the net's config and the data settings into ``model``'s saved hyperparameters."""
    model.hparams[NET_KEY] = OmegaConf.to_container(cfg.model.net, resolve=True)
    model.hparams[DATA_KEY] = input_spec(cfg, datamodule).as_dict()
    model.hparams[MODULE_KEY] = cfg.model.module._target_
    model.records[CLASS_NAMES_KEY] = model.hparams[DATA_KEY]["class_names"]  # for metrics.json


def read_description(path: str | Path) -> tuple[str, InputSpec]:
    """The LightningModule class path and input settings stored in the checkpoint at ``path``."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ckpt_path={path}: no such file; give a .ckpt file of a run")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ValueError(f"ckpt_path={path} is not a readable checkpoint: {err}") from err
    hparams = checkpoint.get("hyper_parameters", {})
    missing = [key for key in (NET_KEY, DATA_KEY, MODULE_KEY) if key not in hparams]
    if missing:
        raise ValueError(
            f"ckpt_path={path} does not describe its model (no {missing} in its hyper_parameters): "
            "it was written by an older version; train again to get a self-describing checkpoint"
        )
    known = {f.name for f in fields(InputSpec)}
    spec = InputSpec(**{k: v for k, v in hparams[DATA_KEY].items() if k in known})
    return hparams[MODULE_KEY], spec
