"""LeNet-style classifiers that expose named feature taps."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import torch
from torch import nn

from lightning_modules.nets.layers import make_activation, make_pooling


class LeNet(nn.Module):
    """Two conv blocks (5x5 conv, activation, 2x2 pool) and a stack of FC layers.

    ``LeNet(channels=(6, 16), hidden=(120, 84))`` is the classic LeNet-5 on 28x28 input
    (the first conv is padded to keep 28x28). Feature taps:

    - ``conv``: flattened output of the last conv block
    - ``fc``: output of the last hidden FC layer (after its activation)
    - ``logits``: class scores
    """

    tap_names = ("conv", "fc", "logits")

    def __init__(
        self,
        channels: Sequence[int] = (6, 16),
        hidden: Sequence[int] = (120, 84),
        num_classes: int = 10,
        activation: str = "relu",
        pooling: str = "max",
        in_channels: int = 1,
        image_size: int = 28,
    ) -> None:
        super().__init__()
        c1, c2 = channels
        self.conv = nn.Sequential(
            nn.Conv2d(in_channels, c1, kernel_size=5, padding=2),
            make_activation(activation),
            make_pooling(pooling),
            nn.Conv2d(c1, c2, kernel_size=5),
            make_activation(activation),
            make_pooling(pooling),
            nn.Flatten(),
        )
        side = (image_size // 2 - 4) // 2
        widths = [c2 * side * side, *hidden]
        layers: list[nn.Module] = []
        for n_in, n_out in pairwise(widths):
            layers += [nn.Linear(n_in, n_out), make_activation(activation)]
        self.fc = nn.Sequential(*layers)
        self.head = nn.Linear(widths[-1], num_classes)
        self.tap_dims = {"conv": widths[0], "fc": widths[-1], "logits": num_classes}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.fc(self.conv(x)))

    def features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        conv = self.conv(x)
        fc = self.fc(conv)
        return {"conv": conv, "fc": fc, "logits": self.head(fc)}
