"""Build the run's components from the composed config, all through ``hydra.utils.instantiate``."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from fnmatch import fnmatch
from typing import Any

import torch
from hydra.utils import instantiate
from omegaconf import Container, DictConfig, OmegaConf

log = logging.getLogger(__name__)


@dataclass
class Run:
    """What a training run is built of (:func:`training.steps.build`)."""

    datamodule: Any
    model: Any
    trainer: Any
    settings: Any  # callbacks.run_settings.RunSettings: changed settings, batches trained
    hyperparameters: dict


def steps_per_execution(cfg: DictConfig) -> int:
    """Optimizer steps per Lightning training step (``steps_per_execution``; 1 without it)."""
    return int(cfg.get("steps_per_execution") or 1)


def datamodule(cfg: DictConfig):
    """The data module; it hands training batches over ``steps_per_execution`` at a time."""
    return instantiate(cfg.data, _convert_="partial", **_grouping(cfg))


def _grouping(cfg: DictConfig) -> dict:
    steps = steps_per_execution(cfg)
    return {"steps_per_execution": steps} if steps > 1 else {}


def model(cfg: DictConfig):
    """The LightningModule: ``model.module`` around the net ``model.net``, with the optimizer."""
    scheduler = instantiate(cfg.scheduler) if cfg.get("scheduler") else None
    net = instantiate(cfg.model.net, _convert_="all")
    if cfg.get("channels_last"):
        # Conv outputs follow their weights' layout; values and parameter names stay the same.
        net.to(memory_format=torch.channels_last)
    if cfg.get("compile"):
        net.compile()  # in place: parameter names and feature taps stay as they are
    module = instantiate(
        cfg.model.module,
        _convert_="all",  # plain values, so that a checkpoint loads weights-only
        net=net,
        optimizer=instantiate(cfg.optimizer, _convert_="all"),
        scheduler=scheduler,
    )
    if (steps := steps_per_execution(cfg)) > 1:
        trainer_cfg = cfg.get("trainer") or {}
        module.set_steps_per_execution(
            steps,
            trainer_cfg.get("gradient_clip_val"),
            trainer_cfg.get("gradient_clip_algorithm"),
        )
    return module


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


CALLBACK_GROUP = "callbacks"
# A callback setting that refers to one of these is where files go, e.g. the checkpoint dir
# ${paths.output_dir}/checkpoints: it differs between runs without changing what they do.
_PATH_REFERENCE = re.compile(r"\$\{(paths\.|hydra:)")


def callbacks(cfg: DictConfig) -> list:
    return _instantiate_group(cfg.get(CALLBACK_GROUP))


def callback_settings(cfg: DictConfig) -> dict:
    """The callbacks' settings as flat primitive values, ``callbacks/<name>/<key>``.

    A callback set to null has none. Left out: values that refer to a path (``paths.*``,
    ``hydra:``). What a resume compares, with :func:`hyperparameters`, to list changed settings.
    """
    raw = OmegaConf.to_container(cfg, resolve=False).get(CALLBACK_GROUP) or {}
    flat: dict = {}

    def walk(key: str, raw_value) -> None:
        if isinstance(raw_value, dict):
            for child, raw_child in raw_value.items():
                walk(f"{key}/{child}", raw_child)
        elif not (isinstance(raw_value, str) and _PATH_REFERENCE.search(raw_value)):
            value = OmegaConf.select(cfg, key.replace("/", "."))
            if isinstance(value, Container):
                value = str(OmegaConf.to_container(value, resolve=True))
            flat[key] = value

    for name, entry in raw.items():
        if entry is not None:
            walk(f"{CALLBACK_GROUP}/{name}", entry)
    return flat


def loggers(cfg: DictConfig) -> list:
    return _instantiate_group(cfg.get("logger"))


def trainer(cfg: DictConfig, callbacks: list, loggers: list):
    """The Lightning Trainer with ``callbacks`` and ``loggers``."""
    # With several steps per execution the module clips: Lightning refuses to under manual
    # optimization (ConfiguredModule.set_steps_per_execution).
    clipping = {"gradient_clip_val": None} if steps_per_execution(cfg) > 1 else {}
    return instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False, **clipping)


# The config groups whose values shape the trained model.
HYPERPARAMETER_GROUPS = ("data", "model", "optimizer", "scheduler", "trainer", "seed")
# Groups whose chosen option (``model=vae``, ``optimizer=adam``) the HParams dashboard shows.
CHOICE_GROUPS = ("data", "model", "optimizer", "scheduler")
# Flat keys (fnmatch patterns) in those groups that are no hyperparameter: how to build an
# object, where files are, and switches that leave what is trained as it is.
NOT_HYPERPARAMETERS = (
    "*/_*_",  # _target_, _partial_, _convert_, ...
    "data/data_dir",
    "data/system_dirs",
    "data/dataset_class",  # the dataset is the data choice
    "data/download",
    "data/on_device",
    "data/cache_dir",
    # Copies of the data's image shape (data/channels, data/image_size where it has them).
    "model/net/in_channels",
    "model/net/image_size",
    "model/module/input_shape",
    "trainer/default_root_dir",
    "trainer/accelerator",
    "trainer/devices",
    "trainer/num_nodes",
    "trainer/strategy",
    "trainer/plugins",
    "trainer/enable_*",
    "trainer/fast_dev_run",
    "trainer/detect_anomaly",
    "trainer/profiler",
    "trainer/log_every_n_steps",
    "trainer/use_distributed_sampler",
    "trainer/deterministic",
    "trainer/benchmark",
)
# A value that is only a reference to another key, e.g. ``${model.activation}``.
_REFERENCE = re.compile(r"\$\{([A-Za-z_][\w.]*)\}")


def hyperparameters(cfg: DictConfig) -> dict:
    """The run's hyperparameters as flat primitive values, for the HParams dashboard.

    Keys are config paths with ``/`` (``model/kl_weight``), plus each of ``CHOICE_GROUPS``'s
    chosen option (``optimizer: adam``) in a Hydra app. Left out: ``NOT_HYPERPARAMETERS``,
    and a value that only refers to another logged key (``model/net/activation`` is
    ``${model.activation}``), so each knob appears once, under the name the user sets.
    The keys the run's command line sets come first, in its order (:func:`overridden`).
    """
    hydra = _hydra_config(cfg)
    choices = hydra.runtime.choices if hydra is not None else {}
    raw = OmegaConf.to_container(cfg, resolve=False)
    flat: dict = {}
    references: dict[str, str] = {}

    def walk(key: str, raw_value) -> None:
        if any(fnmatch(key, pattern) for pattern in NOT_HYPERPARAMETERS):
            return  # before resolving: a path may refer to what is not set here
        if isinstance(raw_value, dict):
            for child, raw_child in raw_value.items():
                walk(f"{key}/{child}", raw_child)
            return
        if isinstance(raw_value, str) and (reference := _REFERENCE.fullmatch(raw_value)):
            references[key] = reference.group(1).replace(".", "/")
        value = OmegaConf.select(cfg, key.replace("/", "."))
        if isinstance(value, Container):
            value = str(OmegaConf.to_container(value, resolve=True))
        flat[key] = value

    for group in HYPERPARAMETER_GROUPS:
        if group not in raw:
            continue
        if group in CHOICE_GROUPS and choices.get(group):
            flat[group] = choices[group]
        if raw[group] is not None or group not in flat:  # scheduler=none: the choice says it
            walk(group, raw[group])
    for key in references:
        if _final_target(key, references) in flat:
            del flat[key]
    if tags := cfg.get("tags"):  # one column, so that the HParams table filters on it
        flat["tags"] = ", ".join(str(tag) for tag in tags)
    first = overridden(flat, hydra)
    return {key: flat[key] for key in first} | flat


def _final_target(key: str, references: dict[str, str]) -> str | None:
    """The key that a chain of references from ``key`` ends at (not itself a reference)."""
    seen = {key}
    target = references[key]
    while target in references and target not in seen:
        seen.add(target)
        target = references[target]
    return None if target in references else target


def overridden(flat: dict, hydra: DictConfig | None = None) -> list[str]:
    """The keys of ``flat`` that the run's command line sets, in its order.

    For a sweep job these include what the sweep varies. ``hydra`` is the ``hydra`` node;
    by default the running app's; outside a Hydra app there are none.
    """
    hydra = hydra if hydra is not None else _hydra_config()
    if hydra is None:
        return []
    from hydra.core.override_parser.overrides_parser import OverridesParser

    keys: list[str] = []
    for override in OverridesParser.create().parse_overrides(list(hydra.overrides.task)):
        if override.is_delete():
            continue
        key = override.key_or_group.replace(".", "/")
        # A whole node set at once (model.net={...}) stands for each key under it.
        matches = [key] if key in flat else [k for k in flat if k.startswith(f"{key}/")]
        keys += [k for k in matches if k not in keys]
    return keys


def _hydra_config(cfg: DictConfig | None = None) -> DictConfig | None:
    """``cfg``'s ``hydra`` node if composed with it, else the running Hydra app's, else None."""
    if cfg is not None and "hydra" in cfg:
        return cfg.hydra
    from hydra.core.hydra_config import HydraConfig

    return HydraConfig.get() if HydraConfig.initialized() else None
