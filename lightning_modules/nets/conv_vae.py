"""A convolutional VAE net whose decoder mirrors its encoder."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from torch import nn

from lightning_modules.nets.gaussian_latent import GaussianLatentNet
from lightning_modules.nets.layers import make_activation


def _halved(side: int) -> int:
    """Output side of a 4x4 conv with stride 2 and padding 1."""
    return (side + 2 - 4) // 2 + 1


class ConvVAE(GaussianLatentNet):
    """Strided 4x4 convs (each halves the image), then a linear layer to the mean and
    log-variance of q(z|x); the decoder runs the same layers backwards with transposed convs.

    With ``channels=(32, 64)`` on 28x28 images: 28 -> 14 -> 7 -> ``latent_dim`` and back.
    """

    def __init__(
        self,
        latent_dim: int = 16,
        channels: Sequence[int] = (32, 64),
        activation: str = "relu",
        in_channels: int = 1,
        image_size: int = 28,
    ) -> None:
        if not channels:
            raise ValueError("model.channels=[]: give at least one width (one stride-2 conv each)")
        widths = [in_channels, *channels]
        sides = [image_size]
        for _ in channels:
            sides.append(_halved(sides[-1]))
        if sides[-1] < 1:
            raise ValueError(
                f"{len(channels)} stride-2 convs shrink a {image_size}px image to nothing; "
                "give model.channels fewer entries"
            )
        flat = widths[-1] * sides[-1] ** 2

        down: list[nn.Module] = []
        for c_in, c_out in itertools.pairwise(widths):
            down += [nn.Conv2d(c_in, c_out, 4, stride=2, padding=1), make_activation(activation)]
        encoder = nn.Sequential(*down, nn.Flatten(), nn.Linear(flat, 2 * latent_dim))

        up: list[nn.Module] = [
            nn.Linear(latent_dim, flat),
            make_activation(activation),
            nn.Unflatten(1, (widths[-1], sides[-1], sides[-1])),
        ]
        for i in range(len(channels), 0, -1):
            # output_padding brings odd sides back (7 -> 3 -> 7, not 6).
            up.append(
                nn.ConvTranspose2d(
                    widths[i],
                    widths[i - 1],
                    4,
                    stride=2,
                    padding=1,
                    output_padding=sides[i - 1] - 2 * sides[i],
                )
            )
            if i > 1:
                up.append(make_activation(activation))
        super().__init__(encoder, nn.Sequential(*up), latent_dim)
