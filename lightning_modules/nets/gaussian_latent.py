"""What every VAE net here shares: an encoder to q(z|x) and a decoder to pixel logits."""

from __future__ import annotations

import torch
from torch import nn


class GaussianLatentNet(nn.Module):
    """``encoder(x)`` gives ``2 * latent_dim`` numbers (mean, log-variance of a diagonal Gaussian);
    ``decoder(z)`` gives one logit per pixel. Implements the ``Generative`` protocol.
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, latent_dim: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.latent_dim = latent_dim

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of q(z|x)."""
        mean, logvar = self.encoder(x).chunk(2, dim=1)
        return mean, logvar

    def decoder_logits(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Mean image in [0, 1]."""
        return torch.sigmoid(self.decoder(z))

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        device = generator.device if generator is not None else next(self.parameters()).device
        return self.decode(torch.randn(n, self.latent_dim, generator=generator, device=device))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction from the posterior mean (gives the model summary its shapes)."""
        return self.decode(self.encode(x)[0])
