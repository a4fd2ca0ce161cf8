"""How much of its latent space a VAE uses, accumulated over a dataset."""

from __future__ import annotations

import torch
from torchmetrics import Metric

from lightning_modules.vae_losses import gaussian_kl


class LatentUsage(Metric):
    """Average KL of each latent dim, and the number of active units: dims whose posterior
    mean varies over the data by more than ``threshold`` (Burda et al. 2016)."""

    full_state_update = False

    def __init__(self, latent_dim: int, threshold: float = 0.01) -> None:
        super().__init__()
        self.threshold = threshold
        # float64: the variance is E[m^2] - E[m]^2 over many batches.
        for name in ("kl_sum", "mean_sum", "mean_sq_sum"):
            self.add_state(name, torch.zeros(latent_dim, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, mean: torch.Tensor, logvar: torch.Tensor) -> None:
        mean64 = mean.detach().double()
        self.kl_sum += gaussian_kl(mean, logvar).detach().double().sum(0)
        self.mean_sum += mean64.sum(0)
        self.mean_sq_sum += mean64.pow(2).sum(0)
        self.count += mean.shape[0]

    def compute(self) -> dict[str, torch.Tensor]:
        kl_per_dim = self.kl_sum / self.count
        variance = self.mean_sq_sum / self.count - (self.mean_sum / self.count).pow(2)
        return {"kl_per_dim": kl_per_dim, "active_units": (variance > self.threshold).sum()}
