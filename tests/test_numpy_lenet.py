"""The NumPy LeNet-5 of bench/numpy_lenet.py computes the same loss, gradients and SGD step as
the project's LeNet-5 in torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from bench import numpy_lenet
from lightning_modules.nets.lenet import LeNet

# float64 on both sides: the sums differ only in order, ~1e-16 relative per operation, so 1e-5
# leaves room for cancellation in the small entries while a wrong index or transpose fails.
RTOL = 1e-5


def torch_twin(params: dict) -> LeNet:
    net = LeNet().double()
    with torch.no_grad():
        for (name, value), p in zip(params.items(), net.parameters(), strict=True):
            assert tuple(p.shape) == value.shape, name
            p.copy_(torch.from_numpy(value))
    return net


def batch(seed: int = 0, n: int = 8):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 1, 28, 28)), rng.integers(0, 10, n)


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / np.abs(b).max())


def test_gradients_match_torch():
    params = numpy_lenet.init_params(seed=0, dtype=np.float64)
    x, y = batch()
    loss, grads = numpy_lenet.loss_and_grads(params, x, y)

    net = torch_twin(params)
    torch_loss = F.cross_entropy(net(torch.from_numpy(x)), torch.from_numpy(y))
    torch_loss.backward()

    assert loss == pytest.approx(torch_loss.item(), rel=RTOL)
    for name, p in zip(params, net.parameters(), strict=True):
        assert grads[name].shape == tuple(p.shape), name
        assert relative_error(grads[name], p.grad.numpy()) < RTOL, name


def test_sgd_momentum_steps_match_torch():
    params = numpy_lenet.init_params(seed=1, dtype=np.float64)
    net = torch_twin(params)
    ours = numpy_lenet.SGDMomentum(params, lr=0.05, momentum=0.9)
    theirs = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    for step in range(3):  # the second and third steps use the momentum buffer
        x, y = batch(seed=step)
        ours.step(numpy_lenet.loss_and_grads(params, x, y)[1])
        theirs.zero_grad()
        F.cross_entropy(net(torch.from_numpy(x)), torch.from_numpy(y)).backward()
        theirs.step()
    for (name, value), p in zip(params.items(), net.parameters(), strict=True):
        assert relative_error(value, p.detach().numpy()) < RTOL, name
