"""What every LightningModule here shares: optimizer and scheduler built from config partials,
per-stage metrics logged as ``<stage>/<name>``, and the best value of the monitored metric."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import lightning as L
import torch
from torch import nn
from torchmetrics import MaxMetric, MeanMetric, Metric, MinMetric
from typing_extensions import override

OptimizerFactory = Callable[..., torch.optim.Optimizer]
SchedulerFactory = Callable[..., torch.optim.lr_scheduler.LRScheduler]
Batch = tuple[torch.Tensor, torch.Tensor]  # images as the model sees them, targets

# Metric names are "<stage>/<metric>", e.g. "val/loss".
STAGES = ("train", "val", "test")
BEST_SUFFIX = "_best"
BEST_TRACKERS = {"max": MaxMetric, "min": MinMetric}  # by model.monitor_mode


def mean_metric() -> MeanMetric:
    """A mean of per-image values.

    No NaN check: it costs a host sync each step, and the divergence guard stops a run whose
    loss is not finite. Fed per-image values, since a MeanMetric without the check ignores
    ``weight``; so the epoch value is a mean over images, not over batches.
    """
    return MeanMetric(nan_strategy="disable")


def as_net(net: nn.Module | Mapping[str, Any]) -> nn.Module:
    """``net``, or the net built from its config (``_target_`` and arguments), the form in
    which a checkpoint holds it, so that ``load_from_checkpoint(path)`` needs no argument."""
    if isinstance(net, nn.Module):
        return net
    from hydra.utils import instantiate

    return instantiate(dict(net), _convert_="all")


class ConfiguredModule(L.LightningModule):
    """Takes ``optimizer`` and ``scheduler`` as partials (Hydra ``_partial_: true``).

    Subclasses give ``stage_metrics``, one ``{name: metric}`` per stage in ``STAGES`` order
    (one object per stage and name: Lightning resets and syncs each on its own), and only
    ``update`` them in ``_step``. They are logged once an epoch as ``<stage>/<name>``; those
    named in ``progress_bar_metrics`` also show in the progress bar.

    :meth:`set_steps_per_execution` makes one ``training_step`` take several optimizer steps.

    Args:
        optimizer: builds the optimizer from the parameters; None for a model only used.
        scheduler: builds the learning-rate scheduler from the optimizer, stepped per epoch.
        monitor: the ``val/<name>`` metric that checkpoints and sweeps rank runs by
            (``model.monitor``); its best value so far is logged as ``<monitor>_best``.
        monitor_mode: ``max`` or ``min``, whichever is better for ``monitor``.
        stage_metrics: per stage, the metric objects by name.
    """

    progress_bar_metrics: tuple[str, ...] = ("loss",)

    def __init__(
        self,
        optimizer: OptimizerFactory | None,
        scheduler: SchedulerFactory | None,
        monitor: str,
        monitor_mode: str,
        stage_metrics: list[Mapping[str, Metric]],
    ) -> None:
        super().__init__()
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.stage_metrics = nn.ModuleList(nn.ModuleDict(dict(m)) for m in stage_metrics)
        stage, _, name = monitor.partition("/")
        if stage != "val" or name not in self.metrics_of("val"):
            logged = sorted(f"val/{n}" for n in self.metrics_of("val"))
            raise ValueError(
                f"model.monitor={monitor!r}: not a metric this model logs; use one of {logged}"
            )
        self.monitor = monitor
        self.monitor_mode = monitor_mode
        self.monitor_best = BEST_TRACKERS[monitor_mode]()
        self.monitor_best.persistent(True)  # training state: a resumed run must remember the best
        # Results that are no scalar (e.g. a list per latent dim), for the run record.
        self.records: dict[str, Any] = {}
        self._stages_logged: set[str] = set()
        self.steps_per_execution = 1
        self._gradient_clipping: tuple[float | None, str | None] = (None, None)

    def set_steps_per_execution(
        self,
        steps: int,
        gradient_clip_val: float | None = None,
        gradient_clip_algorithm: str | None = None,
    ) -> None:
        """Take ``steps`` optimizer steps per ``training_step``, one per batch of the list the
        data module hands over (its ``steps_per_execution``).

        Lightning's fixed cost of a training step (hooks, closure, progress and logging
        bookkeeping) is then paid once per ``steps`` batches. Each batch gets the same
        arithmetic in the same order as with ``steps=1``: loss, ``zero_grad``, backward, the
        callbacks' ``on_before_optimizer_step``, clipping, optimizer step. With ``steps`` > 1
        this module steps the optimizer itself (Lightning's manual optimization), so it also
        clips the gradients and steps the epoch's learning-rate scheduler, which Lightning
        does only under automatic optimization; the Trainer must then get no
        ``gradient_clip_val`` (Lightning refuses one under manual optimization).

        Args:
            steps: optimizer steps per ``training_step``; 1 is Lightning's automatic optimization.
            gradient_clip_val: clip gradients to this value (``trainer.gradient_clip_val``).
            gradient_clip_algorithm: ``norm`` or ``value`` (``trainer.gradient_clip_algorithm``).
        """
        self.steps_per_execution = steps
        self.automatic_optimization = steps == 1
        self._gradient_clipping = (gradient_clip_val, gradient_clip_algorithm)

    @property
    def optimizer_steps_per_epoch(self) -> int:
        """Optimizer steps in a training epoch: one per batch, whatever ``steps_per_execution``."""
        items = self.trainer.num_training_batches
        if self.steps_per_execution == 1:
            return items
        sampler = getattr(self.trainer.train_dataloader, "sampler", None)
        batches = getattr(sampler, "num_batches", items * self.steps_per_execution)
        return min(items * self.steps_per_execution, batches)

    def training_batches(self, batch: Any) -> list[Batch]:
        """The batches of one training item: a list with ``steps_per_execution`` > 1."""
        return batch if self.steps_per_execution > 1 else [batch]

    @override
    def configure_optimizers(self):
        if self.optimizer_factory is None:
            raise ValueError(
                f"{type(self).__name__} was built without an optimizer (e.g. loaded from a "
                "checkpoint for use); pass optimizer= to train it"
            )
        optimizer = self.optimizer_factory(params=self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        scheduler = self.scheduler_factory(optimizer=optimizer)
        lr_scheduler = {"scheduler": scheduler, "interval": "epoch"}
        return {"optimizer": optimizer, "lr_scheduler": lr_scheduler}

    def metrics_of(self, stage: str) -> nn.ModuleDict:
        return self.stage_metrics[STAGES.index(stage)]

    def _step(self, batch: Batch, stage: str) -> torch.Tensor:
        """Loss of ``batch``; updates the stage's metrics."""
        raise NotImplementedError

    def _log_stage_metrics(self, stage: str) -> None:
        """Logs the stage's metric objects once an epoch.

        Lightning computes a logged metric object over all of the epoch's updates at the
        epoch's end, then resets it, so one ``self.log`` per epoch is enough; logging it at
        every step would move it to its device at every call.
        """
        if stage in self._stages_logged:
            return
        self._stages_logged.add(stage)
        for name, metric in self.metrics_of(stage).items():
            self.log(
                f"{stage}/{name}",
                metric,
                on_step=False,
                on_epoch=True,
                prog_bar=name in self.progress_bar_metrics,
            )

    @override
    def training_step(self, batch: Batch | list[Batch], batch_idx: int) -> torch.Tensor:
        """The loss of ``batch``; with ``steps_per_execution`` > 1, the losses of its batches,
        each followed by its optimizer step."""
        if self.automatic_optimization:
            loss = self._step(batch, "train")
        else:
            loss = torch.stack(
                [self._optimizer_step(part) for part in self._batches_to_step(batch)]
            )
            # Lightning counts one logging step per training step; loggers count optimizer
            # steps, as they do with one per training step (its own +1 follows this).
            self.trainer.fit_loop.epoch_loop._batches_that_stepped += len(loss) - 1
        self._log_stage_metrics("train")
        return loss

    def _batches_to_step(self, batches: list[Batch]) -> Iterator[Batch]:
        """``batches`` up to ``trainer.max_steps``, which counts optimizer steps."""
        if not isinstance(batches, list) or isinstance(batches[0], torch.Tensor):
            raise TypeError(
                f"steps_per_execution={self.steps_per_execution}, but the training batch is "
                "not a list of batches: build the data module with the same "
                "steps_per_execution (training.components.datamodule does)"
            )
        max_steps = self.trainer.max_steps
        for batch in batches:
            if 0 <= max_steps <= self.trainer.global_step:
                return
            yield batch

    def _optimizer_step(self, batch: Batch) -> torch.Tensor:
        """One optimizer step on ``batch``, in the order of Lightning's automatic optimization."""
        optimizer = self.optimizers()
        loss = self._step(batch, "train")
        optimizer.zero_grad()
        self.manual_backward(loss)
        optimizer.step()  # runs on_before_optimizer_step: the callbacks', then this module's
        return loss.detach()

    @override
    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        value, algorithm = self._gradient_clipping
        # After the callbacks' hooks, where Lightning clips under automatic optimization.
        if value and not self.automatic_optimization:
            self.clip_gradients(optimizer, value, algorithm)

    @override
    def on_train_epoch_end(self) -> None:
        if self.automatic_optimization or not self._epoch_schedulers_due():
            return
        schedulers = self.lr_schedulers()
        for scheduler in schedulers if isinstance(schedulers, list) else [schedulers]:
            if scheduler is not None:
                scheduler.step()

    def _epoch_schedulers_due(self) -> bool:
        """Where Lightning's fit loop steps epoch schedulers under automatic optimization: after
        an epoch whose batches all ran, not when it restarts an unfinished epoch."""
        loop = self.trainer.fit_loop
        progress = loop.epoch_loop.batch_progress
        all_ran = progress.current.ready == self.trainer.num_training_batches
        return not loop.restarting and (all_ran or progress.is_last_batch)

    @override
    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        self._step(batch, "val")
        self._log_stage_metrics("val")

    @override
    def test_step(self, batch: Batch, batch_idx: int) -> None:
        self._step(batch, "test")
        self._log_stage_metrics("test")

    # Each epoch logs its metric objects anew: Lightning counts only those logged in it.
    @override
    def on_train_epoch_start(self) -> None:
        self._stages_logged.discard("train")

    @override
    def on_validation_epoch_start(self) -> None:
        self._stages_logged.discard("val")

    @override
    def on_test_epoch_start(self) -> None:
        self._stages_logged.discard("test")

    @override
    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking:
            return
        name = self.monitor.partition("/")[2]
        self.monitor_best(self.metrics_of("val")[name].compute())
        # A plain tensor: Lightning only syncs it across DDP ranks when asked.
        self.log(
            self.monitor + BEST_SUFFIX, self.monitor_best.compute(), prog_bar=True, sync_dist=True
        )
