"""Stop a run whose training loss stops being finite, and say where and with which settings."""

from __future__ import annotations

import math
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities.types import STEP_OUTPUT
from typing_extensions import override

from storage.run_files import DIVERGED


class TrainingDiverged(RuntimeError):
    """Raised out of ``trainer.fit``; train.py records ``status`` in metrics.json."""

    status = DIVERGED


class DivergenceGuard(Callback):
    """Raises :class:`TrainingDiverged` naming the first step whose training loss was NaN or inf.

    Reading a loss on the host stalls an accelerator, so the first bad step is kept in a
    tensor on the loss's device and read every ``check_every_n_steps`` steps and at each epoch
    end; the run may go on for that many steps, but the message names the first bad one.
    ``None`` reads every step on the CPU, where it costs nothing, and every 50 elsewhere.
    """

    def __init__(self, check_every_n_steps: int | None = None) -> None:
        self.check_every_n_steps = check_every_n_steps
        self._first_bad_step: torch.Tensor | None = None

    @override
    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._first_bad_step = None

    @override
    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: STEP_OUTPUT,
        batch: Any,
        batch_idx: int,
    ) -> None:
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if not isinstance(loss, torch.Tensor):
            return
        # One loss per optimizer step of the batch (several with steps_per_execution > 1).
        losses = loss.detach().reshape(-1)
        last_step = trainer.global_step  # optimizer steps taken, this batch's included
        first_step = last_step - len(losses) + 1
        if self.check_every_n_steps is None and losses.device.type == "cpu":
            # No device to wait for: read every step, no tensor work.
            for step, value in enumerate(losses.tolist(), start=first_step):
                if not math.isfinite(value):
                    raise TrainingDiverged(_message(trainer, step, value))
            return
        if self._first_bad_step is None:
            self._first_bad_step = torch.full((), -1, dtype=torch.long, device=losses.device)
        bad = ~torch.isfinite(losses)
        first_bad_here = torch.where(bad.any(), first_step + bad.int().argmax(), -1)
        self._first_bad_step = torch.where(
            self._first_bad_step < 0, first_bad_here, self._first_bad_step
        )
        every = self.check_every_n_steps or 50
        if last_step // every != (first_step - 1) // every:  # a multiple of `every` was passed
            self._check(trainer, losses[-1])

    @override
    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._first_bad_step is not None:
            self._check(trainer, None)

    def _check(self, trainer, loss: torch.Tensor | None) -> None:
        first_bad = int(self._first_bad_step)
        if first_bad < 0:
            return
        value = float(loss) if loss is not None and first_bad == trainer.global_step else None
        raise TrainingDiverged(_message(trainer, first_bad, value))


def _message(trainer, step: int, value: float | None) -> str:
    shown = "" if value is None else f" ({value})"
    return (
        f"Training diverged: non-finite loss{shown} at step {step} "
        f"(epoch {trainer.current_epoch + 1}) with {_optimizer_settings(trainer)}. "
        "Lower optimizer.lr or optimizer.momentum, or clip gradients: trainer.gradient_clip_val=1.0"
    )


def _optimizer_settings(trainer) -> str:
    if not trainer.optimizers:
        return "no optimizer"
    optimizer = trainer.optimizers[0]
    group = optimizer.param_groups[0]
    settings = [f"lr={group['lr']:g}"]
    if "momentum" in group:
        settings.append(f"momentum={group['momentum']:g}")
    if "betas" in group:
        settings.append(f"betas={tuple(group['betas'])}")
    return f"{type(optimizer).__name__}({', '.join(settings)})"
