"""Build the run's components from the composed config, all through ``hydra.utils.instantiate``."""

from __future__ import annotations

import logging

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)


def datamodule(cfg: DictConfig):
    return instantiate(cfg.data, _convert_="partial")


def model(cfg: DictConfig):
    """The LightningModule: ``model.module`` around the net ``model.net``, with the optimizer."""
    scheduler = instantiate(cfg.scheduler) if cfg.get("scheduler") else None
    net = instantiate(cfg.model.net, _convert_="all")
    if cfg.get("compile"):
        net.compile()  # in place: parameter names and feature taps stay as they are
    return instantiate(
        cfg.model.module,
        net=net,
        optimizer=instantiate(cfg.optimizer, _convert_="all"),
        scheduler=scheduler,
    )


def _instantiate_group(group: DictConfig | None) -> list:
    """Instantiate each entry of a group such as ``callbacks``; ``null`` entries are off."""
    objects = []
    for name, entry in (group or {}).items():
        if entry is None:
            continue
        if not isinstance(entry, DictConfig) or "_target_" not in entry:
            raise ValueError(f"{name!r} needs a _target_ to be instantiated, got: {entry}")
        log.debug("Instantiating %s <%s>", name, entry._target_)
        built = instantiate(entry, _convert_="all")
        if built is not None:
            objects.append(built)
    return objects


def callbacks(cfg: DictConfig) -> list:
    return _instantiate_group(cfg.get("callbacks"))


def loggers(cfg: DictConfig) -> list:
    return _instantiate_group(cfg.get("logger"))


def trainer(cfg: DictConfig, callbacks: list, loggers: list):
    return instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)


def hyperparameters(cfg: DictConfig) -> dict:
    """The config as flat primitive values for the HParams dashboard (no paths or plumbing)."""
    keep = ("model", "data", "optimizer", "scheduler", "trainer", "seed")
    container = OmegaConf.to_container(cfg, resolve=True)
    flat: dict = {}

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                if k in ("_partial_", "data_dir", "default_root_dir", "system_dirs"):
                    continue
                walk(f"{prefix}/{k}" if prefix else str(k), v)
        elif isinstance(value, (list, tuple)):
            flat[prefix] = str(list(value))
        else:
            flat[prefix] = value

    for key in keep:
        if key in container:
            walk(key, container[key])
    return flat
