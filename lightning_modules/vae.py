"""Variational autoencoder training: a beta-weighted negative ELBO, reported in nats per image."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn
from typing_extensions import override

from lightning_modules.base import (
    STAGES,
    Batch,
    ConfiguredModule,
    OptimizerFactory,
    SchedulerFactory,
    as_net,
    mean_metric,
)
from lightning_modules.latent_usage import LatentUsage
from lightning_modules.vae_losses import gaussian_kl, importance_weighted_nll, pixel_likelihood

# Logged as "<stage>/<term>": the objective, -log p(x|z), KL(q(z|x) || p(z)), recon + KL.
TERMS = ("loss", "recon", "kl", "nelbo")
KL_WEIGHT = "kl_weight"  # with a KL warm-up: the training weight's mean over the epoch
WARMUP_KL_WEIGHT = f"train/{KL_WEIGHT}"
IW_NLL = "iw_nll"  # the importance-weighted bound on -log p(x), at test
TEST_IW_NLL = f"test/{IW_NLL}"
ACTIVE_UNITS = "val/active_units"
KL_PER_DIM = "val/kl_per_dim"


class VAE(ConfiguredModule):
    """Trains a ``GaussianLatentNet`` (e.g. ``ConvVAE``) on images in [0, 1].

    ``loss = mean over the batch of [recon summed over pixels + kl_weight * KL summed over
    latent dims]``, so ``kl_weight=1`` is the negative ELBO and other values are a beta-VAE.
    During the first ``kl_warmup_epochs`` the training KL weight ramps up linearly from 0;
    validation and test always use ``kl_weight``. Also logs ``val/active_units``, keeps
    ``val/kl_per_dim`` in ``records`` and, at test, logs an importance-weighted bound on
    -log p(x) with ``iw_samples`` draws.

    Args:
        net: a ``GaussianLatentNet``, or its config as a checkpoint holds it.
        likelihood: ``bernoulli`` or ``gaussian`` pixels (``model.likelihood``).
        gaussian_scale: the standard deviation of the ``gaussian`` likelihood.
        kl_weight: the weight of the KL term (beta); 1 makes the loss the negative ELBO.
        kl_warmup_epochs: epochs over which the training KL weight ramps up from 0.
        iw_samples: draws per image of the importance-weighted bound at test.
        active_unit_threshold: the variance over the data above which a latent dim is active.
        input_shape: ``(channels, height, width)`` of one image, for the model summary.
        optimizer, scheduler, monitor, monitor_mode: see :class:`ConfiguredModule`.
    """

    def __init__(
        self,
        net: nn.Module | Mapping[str, Any],
        optimizer: OptimizerFactory | None = None,
        scheduler: SchedulerFactory | None = None,
        likelihood: str = "bernoulli",
        gaussian_scale: float = 0.1,
        kl_weight: float = 1.0,
        kl_warmup_epochs: float = 0.0,
        iw_samples: int = 16,
        active_unit_threshold: float = 0.01,
        input_shape: tuple[int, ...] = (1, 28, 28),
        monitor: str = "val/loss",
        monitor_mode: str = "min",
    ) -> None:
        stage_metrics = [{term: mean_metric() for term in TERMS} for _ in STAGES]
        if kl_warmup_epochs:
            stage_metrics[STAGES.index("train")][KL_WEIGHT] = mean_metric()
        stage_metrics[STAGES.index("test")][IW_NLL] = mean_metric()
        super().__init__(optimizer, scheduler, monitor, monitor_mode, stage_metrics)
        self.save_hyperparameters(ignore=["net", "optimizer", "scheduler"], logger=False)
        self.net = net = as_net(net)
        self.nll = pixel_likelihood(likelihood, gaussian_scale)
        self.kl_weight = kl_weight
        self.kl_warmup_epochs = kl_warmup_epochs
        self.iw_samples = iw_samples
        self.latent_usage = LatentUsage(net.latent_dim, active_unit_threshold)
        self.example_input_array = torch.zeros(1, *input_shape)

    # The Generative protocol, delegated to the net.
    @property
    def latent_dim(self) -> int:
        return self.net.latent_dim

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.net.encode(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.net.decode(z)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.net.sample(n, generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def current_kl_weight(self, stage: str) -> float:
        if stage != "train" or self.kl_warmup_epochs == 0:
            return self.kl_weight
        warmup_steps = self.kl_warmup_epochs * self.optimizer_steps_per_epoch
        return self.kl_weight * min(1.0, (self.global_step + 1) / warmup_steps)

    def _step(self, batch: Batch, stage: str) -> torch.Tensor:
        x, _ = batch
        mean, logvar = self.net.encode(x)
        z = mean + (0.5 * logvar).exp() * torch.randn_like(mean)  # reparameterisation
        recon = self.nll(self.net.decoder_logits(z), x)
        kl = gaussian_kl(mean, logvar).sum(1)
        kl_weight = self.current_kl_weight(stage)
        per_image = {"loss": recon + kl_weight * kl, "recon": recon, "kl": kl, "nelbo": recon + kl}
        metrics = self.metrics_of(stage)
        for term, value in per_image.items():
            metrics[term].update(value.detach())
        if KL_WEIGHT in metrics:
            metrics[KL_WEIGHT].update(torch.full_like(recon, kl_weight))
        if stage == "val":
            self.latent_usage.update(mean, logvar)
        if IW_NLL in metrics:
            metrics[IW_NLL].update(
                importance_weighted_nll(
                    x, mean, logvar, self.net.decoder_logits, self.nll, self.iw_samples
                )
            )
        return per_image["loss"].mean()

    @override
    def on_train_batch_start(self, batch: Batch | list[Batch], batch_idx: int) -> None:
        x = self.training_batches(batch)[0][0]
        # Once: the likelihoods are over intensities in [0, 1], standardised input breaks them.
        if self.global_step == 0 and batch_idx == 0 and (x.min() < 0 or x.max() > 1):
            raise ValueError(
                f"the VAE needs pixels in [0, 1] but got values in [{x.min():.3g}, {x.max():.3g}]; "
                "set model.normalize_inputs=false"
            )

    @override
    def on_validation_epoch_end(self) -> None:
        super().on_validation_epoch_end()
        usage = self.latent_usage.compute()
        self.latent_usage.reset()
        if self.trainer.sanity_checking:
            return
        self.log(ACTIVE_UNITS, usage["active_units"].float())
        self.records[KL_PER_DIM] = usage["kl_per_dim"].tolist()
