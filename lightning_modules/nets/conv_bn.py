"""A compact classifier of 3x3 conv blocks with batch norm, exposing the same taps as LeNet."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from lightning_modules.nets.layers import make_activation, make_pooling


def conv_block(c_in: int, c_out: int, convs: int, activation: str, pooling: str) -> nn.Sequential:
    """``convs`` x (3x3 conv, batch norm, activation), then a 2x2 pool that halves the side."""
    layers: list[nn.Module] = []
    for i in range(convs):
        # No conv bias: the batch norm that follows has its own shift.
        layers += [
            nn.Conv2d(c_in if i == 0 else c_out, c_out, 3, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
            make_activation(activation),
        ]
    layers.append(make_pooling(pooling))
    return nn.Sequential(*layers)


class ConvBNNet(nn.Module):
    """Conv blocks (see :func:`conv_block`), one per entry of ``channels``, then a small MLP head.

    Feature taps as :class:`~lightning_modules.nets.lenet.LeNet`'s:

    - ``conv``: flattened output of the last conv block
    - ``fc``: output of the hidden FC layer (after its activation)
    - ``logits``: class scores

    Args:
        channels: output channels of each block.
        convs_per_block: 3x3 convs in each block (one number for all, or one per block).
        hidden: width of the hidden FC layer.
        dropout: dropout before the hidden and the output layer.
        num_classes, activation, pooling, in_channels, image_size: as for LeNet.
    """

    tap_names = ("conv", "fc", "logits")

    def __init__(
        self,
        channels: Sequence[int] = (16, 32, 64),
        convs_per_block: int | Sequence[int] = 1,
        hidden: int = 128,
        dropout: float = 0.0,
        num_classes: int = 10,
        activation: str = "relu",
        pooling: str = "max",
        in_channels: int = 1,
        image_size: int = 28,
    ) -> None:
        super().__init__()
        if isinstance(convs_per_block, int):
            convs_per_block = [convs_per_block] * len(channels)
        if len(convs_per_block) != len(channels):
            raise ValueError(
                f"convs_per_block={list(convs_per_block)}: one number per block of "
                f"channels={list(channels)}, or a single number"
            )
        blocks = []
        side = image_size
        for c_in, c_out, convs in zip(
            [in_channels, *channels], channels, convs_per_block, strict=False
        ):
            blocks.append(conv_block(c_in, c_out, convs, activation, pooling))
            side //= 2
        self.conv = nn.Sequential(*blocks, nn.Flatten())
        width = channels[-1] * side * side
        self.fc = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(width, hidden), make_activation(activation)
        )
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden, num_classes))
        self.tap_dims = {"conv": width, "fc": hidden, "logits": num_classes}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.fc(self.conv(x)))

    def features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        conv = self.conv(x)
        fc = self.fc(conv)
        return {"conv": conv, "fc": fc, "logits": self.head(fc)}
