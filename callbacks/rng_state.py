"""RNG states in the checkpoint, so a resumed run draws what the uninterrupted one would."""

from __future__ import annotations

import logging
import random
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback
from typing_extensions import override

log = logging.getLogger(__name__)


def collect_rng_states() -> dict[str, Any]:
    """The global RNG states as tensors and plain values, which ``weights_only`` loading accepts."""
    kind, keys, pos, has_gauss, cached_gauss = np.random.get_state()
    states: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "kind": kind,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": pos,
            "has_gauss": has_gauss,
            "cached_gaussian": cached_gauss,
        },
        "python": random.getstate(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["torch.cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states: dict[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    n = states["numpy"]
    np.random.set_state(
        (
            n["kind"],
            n["keys"].numpy().astype(np.uint32),
            n["pos"],
            n["has_gauss"],
            n["cached_gaussian"],
        )
    )
    version, internal, gauss_next = states["python"]
    random.setstate((version, tuple(internal), gauss_next))
    if "torch.cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["torch.cuda"])


class RNGState(Callback):
    """Saves the torch, numpy and Python RNG states with each checkpoint; restores them on resume.

    Lightning checkpoints hold no RNG state, so without this a resumed run would draw other
    dropout masks or latent noise than the uninterrupted run. The states are restored when
    training starts, after the sanity-check validation that a resumed run repeats.
    """

    def __init__(self) -> None:
        self._to_restore: dict[str, Any] | None = None

    @override
    def state_dict(self) -> dict[str, Any]:
        return collect_rng_states()

    @override
    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._to_restore = state_dict

    @override
    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._to_restore is not None:
            set_rng_states(self._to_restore)
            self._to_restore = None
            log.debug("Restored the RNG states saved with the checkpoint")
