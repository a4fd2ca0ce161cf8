"""The small interfaces through which callbacks talk to models, whatever the net."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import torch


@runtime_checkable
class FeatureTaps(Protocol):
    """A model whose intermediate outputs can be read by name (``conv``, ``fc``, ``logits``)."""

    tap_names: tuple[str, ...]

    def features(self, x: torch.Tensor) -> dict[str, torch.Tensor]: ...


@runtime_checkable
class Generative(Protocol):
    """A latent-variable image model: encode to a posterior, decode latents, sample the prior."""

    latent_dim: int

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]: ...

    def decode(self, z: torch.Tensor) -> torch.Tensor: ...

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor: ...


@runtime_checkable
class StageMetrics(Protocol):
    """A model that logs its metrics as ``<stage>/<name>`` (``train/loss``, ``val/loss``)."""

    def metrics_of(self, stage: str) -> Mapping[str, Any]:
        """The metrics of ``stage`` (``train``, ``val`` or ``test``) by name."""
        ...


@runtime_checkable
class Classifier(Protocol):
    """A model whose forward pass maps a batch of images to class scores ``[N, num_classes]``."""

    num_classes: int

    def __call__(self, x: torch.Tensor) -> torch.Tensor: ...


@runtime_checkable
class LabelledImageData(Protocol):
    """A data module holding its splits in memory as (uint8 images ``[N, C, H, W]``, targets)."""

    splits: dict[str, tuple[torch.Tensor, torch.Tensor]]
    class_names: list[str]

    def to_model_input(self, images: torch.Tensor) -> torch.Tensor: ...
