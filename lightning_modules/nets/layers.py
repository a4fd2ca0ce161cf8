"""Activation and pooling layers chosen by name from the config."""

from __future__ import annotations

from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}
POOLINGS: dict[str, type[nn.Module]] = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}


def _choose(kind: str, table: dict, name: str):
    try:
        return table[name]
    except KeyError:
        raise ValueError(f"unknown {kind} {name!r}; choose one of {sorted(table)}") from None


def make_activation(name: str) -> nn.Module:
    return _choose("activation", ACTIVATIONS, name)()


def make_pooling(name: str, size: int = 2) -> nn.Module:
    return _choose("pooling", POOLINGS, name)(size)
