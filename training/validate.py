"""Check every setting that has a valid range before any data is read or any model is built.

One table, keyed by config path, instead of asserts spread over the components: a rule
applies wherever its key is present, so it covers every model, optimizer and scheduler
option that uses the key. Hydra already rejects unknown group options and misspelled
keys; ranges cannot be expressed in its dataclass schemas, so they are checked here.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

_ABSENT = object()


class ConfigError(ValueError):
    """One or more settings are out of range; the message lists each key, value and range."""


@dataclass(frozen=True)
class Interval:
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    integer: bool = False
    optional: bool = False  # null is allowed

    def problem(self, value: Any) -> str | None:
        """What is wrong with ``value``, or None when it is allowed."""
        if value is None and self.optional:
            return None
        kind = int if self.integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, kind) or not math.isfinite(value):
            return f"must be {self}"
        below = self.low is not None and (value <= self.low if self.low_open else value < self.low)
        above = self.high is not None and (
            value >= self.high if self.high_open else value > self.high
        )
        return f"must be {self}" if below or above else None

    def __str__(self) -> str:
        kind = "an integer" if self.integer else "a number"
        if self.low is not None and self.high is not None:
            left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
            bounds = f"in {left}{self.low}, {self.high}{right}"
        elif self.low is not None:
            bounds = f"{'>' if self.low_open else '>='} {self.low}"
        elif self.high is not None:
            bounds = f"{'<' if self.high_open else '<='} {self.high}"
        else:
            bounds = "that is finite"
        return f"{kind} {bounds}" + (" (or null)" if self.optional else "")


POSITIVE = Interval(low=0, low_open=True)
NON_NEGATIVE = Interval(low=0)
UNIT = Interval(low=0, high=1, high_open=True)  # momentum, Adam betas
COUNT = Interval(low=1, integer=True)

# Numeric settings by config path; list values are checked element by element.
RANGES: dict[str, Interval] = {
    # Lightning's seed range: outside it, seed_everything silently picks a random seed.
    "seed": Interval(low=0, high=2**32 - 1, integer=True),
    "steps_per_execution": COUNT,
    "min_free_disk_mb": NON_NEGATIVE,
    "optimizer.lr": POSITIVE,
    "optimizer.momentum": UNIT,
    "optimizer.weight_decay": NON_NEGATIVE,
    "optimizer.betas": UNIT,
    "optimizer.eps": POSITIVE,
    "scheduler.T_max": COUNT,
    "scheduler.eta_min": NON_NEGATIVE,
    "scheduler.step_size": COUNT,
    "scheduler.gamma": POSITIVE,
    "model.kl_weight": NON_NEGATIVE,
    "model.kl_warmup_epochs": NON_NEGATIVE,
    "model.iw_samples": COUNT,
    "model.gaussian_scale": POSITIVE,
    "model.latent_dim": COUNT,
    "model.net.channels": COUNT,
    "model.net.hidden": COUNT,
    "model.net.num_classes": Interval(low=2, integer=True),
    "model.label_smoothing": Interval(low=0, high=1, high_open=True),
    "data.batch_size": COUNT,
    "data.eval_batch_size": Interval(low=1, integer=True, optional=True),
    "data.std": POSITIVE,
    "data.mean": Interval(),
    "data.augment.crop_padding": Interval(low=0, integer=True),
    "data.augment.flip_p": Interval(low=0, high=1),
    "data.augment.erase_p": Interval(low=0, high=1),
    "data.augment.erase_scale": Interval(low=0, high=1),
    "data.augment.erase_ratio": POSITIVE,
    "callbacks.early_stopping.patience": Interval(low=1, integer=True, optional=True),
    "callbacks.early_stopping.min_delta": NON_NEGATIVE,
    # Fewer images leave t-SNE's perplexity and the 5-fold kNN without data.
    "callbacks.feature_embeddings.num_images": Interval(low=100, integer=True),
    "callbacks.feature_embeddings.every_n_epochs": Interval(low=0, integer=True),
    "callbacks.feature_embeddings.num_workers": Interval(low=0, integer=True, optional=True),
    "callbacks.gradient_norms.every_n_steps": COUNT,
    "callbacks.confusion_matrix.top_k": COUNT,
    "callbacks.divergence_guard.check_every_n_steps": Interval(low=1, integer=True, optional=True),
    "callbacks.image_grids.every_n_epochs": COUNT,
    "callbacks.image_grids.interpolation_steps": Interval(low=2, integer=True),
    "trainer.max_epochs": COUNT,
    "trainer.min_epochs": Interval(low=0, integer=True),
    "trainer.log_every_n_steps": COUNT,
    "trainer.check_val_every_n_epoch": COUNT,
    "trainer.gradient_clip_val": Interval(low=0, optional=True),  # 0 or null: no clipping
}


# Settings that must be a list, by config path: the length a list must have (None: any).
LISTS: dict[str, int | None] = {
    "optimizer.betas": 2,
    "data.system_dirs": None,
    "data.augment.erase_scale": 2,
    "data.augment.erase_ratio": 2,
}
# [low, high] ranges, by config path: low must not exceed high.
LOW_HIGH = ("data.augment.erase_scale", "data.augment.erase_ratio")
# Lists whose length a net's architecture fixes, by the net's class name.
NET_LISTS: dict[str, dict[str, int | None]] = {
    "LeNet": {"channels": 2, "hidden": None},
}


# Lightning's GradClipAlgorithmType values, without importing Lightning.
GRADIENT_CLIP_ALGORITHMS = ("norm", "value")
# Choices that may also be null, for Lightning's default (gradient clipping: norm).
OPTIONAL_CHOICES = ("trainer.gradient_clip_algorithm",)


def _choices() -> dict[str, Collection[str]]:
    """Settings that name one of a fixed set of options, by config path."""
    from lightning_modules.options import (
        ACTIVATIONS,
        IMAGE_CHANNELS,
        LIKELIHOODS,
        MONITOR_MODES,
        POOLINGS,
        PROGRESS_BAR_MODES,
    )

    return {
        "model.activation": ACTIVATIONS,
        "model.pooling": POOLINGS,
        "model.likelihood": LIKELIHOODS,
        "model.monitor_mode": MONITOR_MODES,
        "data.channels": IMAGE_CHANNELS,
        "callbacks.progress_bar.mode": PROGRESS_BAR_MODES,
        "trainer.gradient_clip_algorithm": GRADIENT_CLIP_ALGORITHMS,
    }


def _values(key: str, value: Any) -> list[tuple[str, Any]]:
    if isinstance(value, (list, tuple)):
        return [(f"{key}[{i}]", v) for i, v in enumerate(value)]
    return [(key, value)]


def _select(cfg: DictConfig, key: str) -> Any:
    value = OmegaConf.select(cfg, key, default=_ABSENT)
    if isinstance(value, (DictConfig, ListConfig)):
        return OmegaConf.to_container(value, resolve=True)
    return value


def problems(cfg: DictConfig) -> list[str]:
    """Every out-of-range or unknown setting in ``cfg``, one line each."""
    found: list[tuple[str, Any, str]] = []
    for key, interval in RANGES.items():
        value = _select(cfg, key)
        if value is _ABSENT:
            continue
        for name, item in _values(key, value):
            if problem := interval.problem(item):
                found.append((name, item, problem))
    for key, options in _choices().items():
        value = _select(cfg, key)
        if value is _ABSENT or (value is None and key in OPTIONAL_CHOICES):
            continue
        if value not in (allowed := sorted(options)):
            optional = " (or null)" if key in OPTIONAL_CHOICES else ""
            found.append((key, value, f"must be one of {allowed}{optional}"))
    found += _list_problems(cfg)
    found += _steps_per_execution_problems(cfg)
    return [f"{key}={value!r}: {problem}" for key, value, problem in found]


def _list_problems(cfg: DictConfig) -> list[tuple[str, Any, str]]:
    net = str(OmegaConf.select(cfg, "model.net._target_", default="") or "").rsplit(".", 1)[-1]
    lengths = {**LISTS, **{f"model.net.{k}": n for k, n in NET_LISTS.get(net, {}).items()}}
    found = []
    for key, length in lengths.items():
        value = _select(cfg, key)
        if value is _ABSENT:
            continue
        if not isinstance(value, list):
            found.append((key, value, f"must be a list, e.g. {key}=[...]"))
        elif length is not None and len(value) != length:
            found.append((key, value, f"must be a list of {length} values"))
        elif key in LOW_HIGH and _are_numbers(value) and value[0] > value[1]:
            found.append((key, value, "must be [low, high] with low <= high"))
    return found


def _steps_per_execution_problems(cfg: DictConfig) -> list[tuple[str, Any, str]]:
    """Lightning accumulates gradients only when it steps the optimizer itself (one step per
    training step)."""
    steps = _select(cfg, "steps_per_execution")
    accumulate = _select(cfg, "trainer.accumulate_grad_batches")
    if isinstance(steps, int) and steps > 1 and accumulate not in (_ABSENT, None, 1):
        problem = "cannot be combined with trainer.accumulate_grad_batches; set one of them to 1"
        return [("steps_per_execution", steps, problem)]
    return []


def _are_numbers(values: list) -> bool:
    """Whether every value is a number (the range rules report those that are not)."""
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def check_against_data(cfg: DictConfig, datamodule: Any) -> None:
    """Raise :class:`ConfigError` when the net's class count is not the data's."""
    net_classes = OmegaConf.select(cfg, "model.net.num_classes", default=None)
    data_classes = getattr(datamodule, "num_classes", None)
    if isinstance(net_classes, int) and isinstance(data_classes, int):
        if net_classes != data_classes:
            raise ConfigError(
                f"model.net.num_classes={net_classes}, but the data ({cfg.data.get('_target_')}"
                f" with {getattr(datamodule, 'dataset_class', type(datamodule)).__name__}) has "
                f"{data_classes} classes. "
                f"Drop the override or set model.net.num_classes={data_classes}."
            )


def check_config(cfg: DictConfig) -> None:
    """Raise :class:`ConfigError` listing every bad setting at once: a sweep fails in a second."""
    if found := problems(cfg):
        lines = "\n".join(f"  - {line}" for line in found)
        raise ConfigError(
            f"Invalid config: fix these settings (overrides or conf/ files):\n{lines}"
        )
