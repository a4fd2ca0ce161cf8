"""Per-parameter gradient norms, to see vanishing or exploding gradients layer by layer."""

from __future__ import annotations

import logging

import lightning as L
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities import grad_norm
from torch.optim import Optimizer
from typing_extensions import override

log = logging.getLogger(__name__)

GRAD_NORM_PREFIX = "grad_norm/"


class GradientNorms(Callback):
    """Logs ``grad_norm/<parameter>`` and ``grad_norm/total`` every ``every_n_steps`` steps.

    Norms are taken just before the optimizer step, after gradient unscaling under mixed
    precision, so they are the gradients the optimizer actually applies.
    """

    def __init__(self, every_n_steps: int = 50, norm_type: float | str = 2.0) -> None:
        self.every_n_steps = every_n_steps
        self.norm_type = float(norm_type)

    @override
    def on_before_optimizer_step(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        optimizer: Optimizer,
    ) -> None:
        if trainer.global_step % self.every_n_steps or trainer.fast_dev_run or not trainer.loggers:
            return
        # Lightning names them grad_2.0_norm/<parameter> and grad_2.0_norm_total.
        lightning_prefix = f"grad_{self.norm_type}_norm"
        norms = {}
        for name, value in grad_norm(pl_module, self.norm_type, group_separator="/").items():
            parameter = name.removeprefix(lightning_prefix)[1:]  # drop the "/" or "_"
            norms[GRAD_NORM_PREFIX + parameter] = float(value)
        for logger in trainer.loggers:
            logger.log_metrics(norms, step=trainer.global_step)
