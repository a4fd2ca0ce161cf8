"""The fully connected VAE of the PyTorch examples (784-400-20), as a baseline."""

from __future__ import annotations

import math

from torch import nn

from lightning_modules.nets.gaussian_latent import GaussianLatentNet


class MLPVAE(GaussianLatentNet):
    """``x -> 400 -> (mean, logvar) of 20 dims -> 400 -> 784 logits`` with ReLU, as in
    https://github.com/pytorch/examples/tree/main/vae; ``in_channels`` and ``image_size`` as
    for the conv VAE."""

    def __init__(
        self, latent_dim: int = 20, hidden: int = 400, in_channels: int = 1, image_size: int = 28
    ) -> None:
        image_shape = (in_channels, image_size, image_size)
        pixels = math.prod(image_shape)
        encoder = nn.Sequential(
            nn.Flatten(), nn.Linear(pixels, hidden), nn.ReLU(), nn.Linear(hidden, 2 * latent_dim)
        )
        decoder = nn.Sequential(
            nn.Linear(latent_dim, hidden),
            nn.ReLU(),
            nn.Linear(hidden, pixels),
            nn.Unflatten(1, image_shape),
        )
        super().__init__(encoder, decoder, latent_dim)
