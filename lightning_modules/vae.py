"""Variational autoencoder training: a beta-weighted negative ELBO, reported in nats per image."""

from __future__ import annotations

import torch
from torch import nn
from torchmetrics import MeanMetric, MinMetric

from lab.run_files import update_metrics
from lightning_modules.base import STAGES, ConfiguredModule, OptimizerFactory, SchedulerFactory
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
    validation and test always use ``kl_weight``. Also logs ``val/active_units``,
    ``val/kl_per_dim`` (into metrics.json) and, at test, an importance-weighted bound on
    -log p(x) with ``iw_samples`` draws.
    """

    monitor = "val/loss"
    monitor_mode = "min"

    def __init__(
        self,
        net: nn.Module,
        optimizer: OptimizerFactory,
        scheduler: SchedulerFactory | None = None,
        likelihood: str = "bernoulli",
        gaussian_scale: float = 0.1,
        kl_weight: float = 1.0,
        kl_warmup_epochs: float = 0.0,
        iw_samples: int = 16,
        active_unit_threshold: float = 0.01,
        input_shape: tuple[int, ...] = (1, 28, 28),
    ) -> None:
        super().__init__(optimizer, scheduler)
        if kl_weight < 0 or kl_warmup_epochs < 0 or iw_samples < 1:
            raise ValueError(
                "need model.kl_weight >= 0, model.kl_warmup_epochs >= 0 and model.iw_samples >= 1;"
                f" got {kl_weight}, {kl_warmup_epochs}, {iw_samples}"
            )
        self.save_hyperparameters(ignore=["net", "optimizer", "scheduler"], logger=False)
        self.net = net
        self.nll = pixel_likelihood(likelihood, gaussian_scale)
        self.kl_weight = kl_weight
        self.kl_warmup_epochs = kl_warmup_epochs
        self.iw_samples = iw_samples
        # One metric object per stage and name: Lightning resets and syncs each on its own.
        # No NaN checks: they cost a host sync each step; the divergence callback stops a run
        # whose loss is not finite.
        def mean() -> MeanMetric:
            return MeanMetric(nan_strategy="disable")

        stage_metrics = [{term: mean() for term in TERMS} for _ in STAGES]
        if kl_warmup_epochs:
            stage_metrics[STAGES.index("train")][KL_WEIGHT] = mean()
        stage_metrics[STAGES.index("test")][IW_NLL] = mean()
        self.stage_metrics = nn.ModuleList(nn.ModuleDict(metrics) for metrics in stage_metrics)
        self.latent_usage = LatentUsage(net.latent_dim, active_unit_threshold)
        self.val_loss_best = MinMetric()
        self.val_loss_best.persistent(True)  # training state: a resumed run must remember the best
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
        warmup_steps = self.kl_warmup_epochs * self.trainer.num_training_batches
        return self.kl_weight * min(1.0, (self.global_step + 1) / warmup_steps)

    def _step(self, batch, stage: str) -> torch.Tensor:
        x, _ = batch
        mean, logvar = self.net.encode(x)
        z = mean + (0.5 * logvar).exp() * torch.randn_like(mean)  # reparameterisation
        recon = self.nll(self.net.decoder_logits(z), x)
        kl = gaussian_kl(mean, logvar).sum(1)
        kl_weight = self.current_kl_weight(stage)
        per_image = {"loss": recon + kl_weight * kl, "recon": recon, "kl": kl, "nelbo": recon + kl}
        metrics = self.metrics_of(stage)
        # Per-image values: the epoch value is a mean over images (a MeanMetric that skips
        # the NaN check ignores ``weight``).
        for term, value in per_image.items():
            metrics[term].update(value.detach())
        if KL_WEIGHT in metrics:
            metrics[KL_WEIGHT].update(torch.full_like(recon, kl_weight))
        if stage == "val":
            self.latent_usage.update(mean, logvar)
        if IW_NLL in metrics:
            metrics[IW_NLL].update(importance_weighted_nll(
                x, mean, logvar, self.net.decoder_logits, self.nll, self.iw_samples
            ))
        return per_image["loss"].mean()

    def on_train_batch_start(self, batch, batch_idx) -> None:
        x = batch[0]
        # Once: the likelihoods are over intensities in [0, 1], standardised input breaks them.
        if self.global_step == 0 and batch_idx == 0 and (x.min() < 0 or x.max() > 1):
            raise ValueError(
                f"the VAE needs pixels in [0, 1] but got values in [{x.min():.3g}, {x.max():.3g}]; "
                "set model.normalize_inputs=false"
            )

    def on_validation_epoch_end(self) -> None:
        usage = self.latent_usage.compute()
        self.latent_usage.reset()
        if self.trainer.sanity_checking:
            return
        self.log(ACTIVE_UNITS, usage["active_units"].float())
        self.val_loss_best(self.metrics_of("val")["loss"].compute())
        best = self.val_loss_best.compute()
        self.log(f"{self.monitor}_best", best, prog_bar=True, sync_dist=True)
        if self.trainer.is_global_zero:
            kl_per_dim = usage["kl_per_dim"].tolist()
            update_metrics(self.trainer.default_root_dir, {KL_PER_DIM: kl_per_dim})
