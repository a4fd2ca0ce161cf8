"""The best checkpoint's weights, for what the callbacks draw at the end of fit."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import lightning as L
import torch

log = logging.getLogger(__name__)


@contextmanager
def best_weights(trainer: L.Trainer, pl_module: L.LightningModule, what: str) -> Iterator[None]:
    """Within the block ``pl_module`` holds the best checkpoint's weights; after it, its own.

    The best checkpoint is ``trainer.checkpoint_callback.best_model_path``, loaded weights-only.
    Without a checkpoint callback or a best checkpoint, the current weights stay, and the log
    says so.

    Args:
        trainer: the trainer at the end of fit.
        pl_module: the module to draw with.
        what: what is drawn, for the log.
    """
    checkpoint = trainer.checkpoint_callback
    path = getattr(checkpoint, "best_model_path", "") if checkpoint is not None else ""
    if not path:
        log.info("%s: no best checkpoint, so drawn with the current weights", what)
        yield
        return
    current = {name: value.detach().clone() for name, value in pl_module.state_dict().items()}
    state = torch.load(path, map_location="cpu", weights_only=True)["state_dict"]
    pl_module.load_state_dict(state)
    log.info("%s: drawn with the weights of the best checkpoint, %s", what, Path(path).name)
    try:
        yield
    finally:
        pl_module.load_state_dict(current)
