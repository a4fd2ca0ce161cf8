"""The terms of a VAE's objective, per image, in nats."""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F

from lightning_modules.options import LIKELIHOODS, choose

# (decoder logits, images in [0, 1]) -> -log p(x|z) per image, summed over pixels
PixelLikelihood = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def bernoulli_nll(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)


def gaussian_nll(logits: torch.Tensor, x: torch.Tensor, scale: float) -> torch.Tensor:
    """Gaussian with mean ``sigmoid(logits)`` and a fixed standard deviation ``scale``."""
    mean = torch.sigmoid(logits)
    per_pixel = 0.5 * ((x - mean) / scale) ** 2 + math.log(scale) + 0.5 * math.log(2 * math.pi)
    return per_pixel.flatten(1).sum(1)


def pixel_likelihood(name: str, gaussian_scale: float = 0.1) -> PixelLikelihood:
    table: dict[str, PixelLikelihood] = {
        "bernoulli": bernoulli_nll,
        "gaussian": partial(gaussian_nll, scale=gaussian_scale),
    }
    return table[choose("likelihood", LIKELIHOODS, name)]


def gaussian_kl(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, exp(logvar)) || N(0, 1)) per latent dim, in closed form: shape [batch, dims]."""
    return 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar)


def _gaussian_log_density(z: torch.Tensor, mean: torch.Tensor, logvar: torch.Tensor):
    return -0.5 * (((z - mean) ** 2) / logvar.exp() + logvar + math.log(2 * math.pi)).sum(-1)


@torch.no_grad()
def importance_weighted_nll(
    x: torch.Tensor,
    mean: torch.Tensor,
    logvar: torch.Tensor,
    decoder_logits: Callable[[torch.Tensor], torch.Tensor],
    nll: PixelLikelihood,
    samples: int,
) -> torch.Tensor:
    """Upper bound on -log p(x) per image from ``samples`` draws of q(z|x) (Burda et al. 2016).

    -log (1/k sum_i p(x|z_i) p(z_i) / q(z_i|x)); tightens towards -log p(x) as k grows and
    equals the negative ELBO in expectation at k=1. Decodes one draw at a time to bound memory.
    """
    std = (0.5 * logvar).exp()
    zeros = torch.zeros_like(mean)
    log_weights = []
    for _ in range(samples):
        z = mean + std * torch.randn_like(std)
        log_joint = -nll(decoder_logits(z), x) + _gaussian_log_density(z, zeros, zeros)
        log_weights.append(log_joint - _gaussian_log_density(z, mean, logvar))
    return math.log(samples) - torch.logsumexp(torch.stack(log_weights), dim=0)
