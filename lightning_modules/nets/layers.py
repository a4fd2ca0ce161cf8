"""Activation and pooling layers chosen by name from the config."""

from __future__ import annotations

from torch import nn

from lightning_modules.options import ACTIVATIONS, POOLINGS, choose


def make_activation(name: str) -> nn.Module:
    return getattr(nn, choose("activation", ACTIVATIONS, name))()


def make_pooling(name: str, size: int = 2) -> nn.Module:
    return getattr(nn, choose("pooling", POOLINGS, name))(size)
