"""LeNet-5 from scratch in NumPy: the speed anchor the framework is measured against.

The same layers as ``model=lenet`` (5x5 conv 1->6 padded, ReLU, 2x2 max pool, 5x5 conv 6->16,
ReLU, 2x2 max pool, FC 400-120-84-10 with ReLUs) and the same SGD with momentum (torch's rule:
``v = momentum * v + g; p -= lr * v``). Convolutions are im2col + one matrix product; the
backward pass is written by hand, with no autograd.

    python bench/numpy_lenet.py                 # time 50 batches of 128, extrapolate an epoch
    python bench/numpy_lenet.py --batches 0     # a whole epoch

``tests/test_numpy_lenet.py`` checks its gradients against torch's.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

ROOT = Path(__file__).resolve().parents[1]

# name -> shape, in the order of the torch net's parameters() (conv1, conv2, fc1, fc2, head).
SHAPES = {
    "conv1.w": (6, 1, 5, 5),
    "conv1.b": (6,),
    "conv2.w": (16, 6, 5, 5),
    "conv2.b": (16,),
    "fc1.w": (120, 400),
    "fc1.b": (120,),
    "fc2.w": (84, 120),
    "fc2.b": (84,),
    "head.w": (10, 84),
    "head.b": (10,),
}


def init_params(seed: int = 0, dtype=np.float32) -> dict[str, np.ndarray]:
    """torch's default init: uniform in +-1/sqrt(fan_in) for weights and biases alike."""
    rng = np.random.default_rng(seed)
    params = {}
    for name, shape in SHAPES.items():
        weight_shape = SHAPES[name.replace(".b", ".w")]
        bound = 1 / np.sqrt(np.prod(weight_shape[1:]))
        params[name] = rng.uniform(-bound, bound, shape).astype(dtype)
    return params


def im2col(x: np.ndarray, k: int) -> np.ndarray:
    """``[N, C, H, W]`` -> ``[N * Ho * Wo, C * k * k]``, the rows in (n, i, j) order."""
    n, c = x.shape[:2]
    windows = sliding_window_view(x, (k, k), axis=(2, 3))  # [N, C, Ho, Wo, k, k]
    ho, wo = windows.shape[2:4]
    return windows.transpose(0, 2, 3, 1, 4, 5).reshape(n * ho * wo, c * k * k)


def col2im(cols: np.ndarray, shape: tuple[int, ...], k: int) -> np.ndarray:
    """The adjoint of :func:`im2col`: sums each window's gradient back into ``[N, C, H, W]``."""
    n, c, h, w = shape
    ho, wo = h - k + 1, w - k + 1
    windows = cols.reshape(n, ho, wo, c, k, k)
    dx = np.zeros(shape, dtype=cols.dtype)
    for i in range(k):
        for j in range(k):
            dx[:, :, i : i + ho, j : j + wo] += windows[:, :, :, :, i, j].transpose(0, 3, 1, 2)
    return dx


def conv_forward(x, w, b, pad: int):
    x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))) if pad else x
    f, _, k, _ = w.shape
    cols = im2col(x, k)
    n, ho, wo = x.shape[0], x.shape[2] - k + 1, x.shape[3] - k + 1
    out = (cols @ w.reshape(f, -1).T + b).reshape(n, ho, wo, f).transpose(0, 3, 1, 2)
    return out, (cols, x.shape, pad)


def conv_backward(dout, w, cache):
    cols, padded_shape, pad = cache
    f, _, k, _ = w.shape
    dout_rows = dout.transpose(0, 2, 3, 1).reshape(-1, f)
    dw = (dout_rows.T @ cols).reshape(w.shape)
    db = dout_rows.sum(axis=0)
    dx = col2im(dout_rows @ w.reshape(f, -1), padded_shape, k)
    if pad:
        dx = dx[:, :, pad:-pad, pad:-pad]
    return dx, dw, db


def maxpool_forward(x):
    """2x2, stride 2; the gradient goes to the first maximum of each window, as in torch."""
    n, c, h, w = x.shape
    windows = x.reshape(n, c, h // 2, 2, w // 2, 2).transpose(0, 1, 2, 4, 3, 5)
    windows = windows.reshape(n, c, h // 2, w // 2, 4)
    arg = windows.argmax(axis=-1)
    return np.take_along_axis(windows, arg[..., None], -1)[..., 0], (arg, x.shape)


def maxpool_backward(dout, cache):
    arg, shape = cache
    n, c, h, w = shape
    dwin = np.zeros((*dout.shape, 4), dtype=dout.dtype)
    np.put_along_axis(dwin, arg[..., None], dout[..., None], -1)
    dwin = dwin.reshape(n, c, h // 2, w // 2, 2, 2).transpose(0, 1, 2, 4, 3, 5)
    return dwin.reshape(shape)


def loss_and_grads(params: dict, x: np.ndarray, y: np.ndarray):
    """Mean cross-entropy of the batch and its gradient for every parameter."""
    p = params
    c1, c1_cache = conv_forward(x, p["conv1.w"], p["conv1.b"], pad=2)
    r1 = np.maximum(c1, 0)
    p1, p1_cache = maxpool_forward(r1)
    c2, c2_cache = conv_forward(p1, p["conv2.w"], p["conv2.b"], pad=0)
    r2 = np.maximum(c2, 0)
    p2, p2_cache = maxpool_forward(r2)
    flat = p2.reshape(len(x), -1)  # (C, H, W) order, as nn.Flatten
    h1 = np.maximum(flat @ p["fc1.w"].T + p["fc1.b"], 0)
    h2 = np.maximum(h1 @ p["fc2.w"].T + p["fc2.b"], 0)
    logits = h2 @ p["head.w"].T + p["head.b"]

    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n = len(y)
    loss = -log_probs[np.arange(n), y].mean()

    g = {}
    dlogits = np.exp(log_probs)
    dlogits[np.arange(n), y] -= 1
    dlogits /= n
    g["head.w"], g["head.b"] = dlogits.T @ h2, dlogits.sum(0)
    dh2 = (dlogits @ p["head.w"]) * (h2 > 0)
    g["fc2.w"], g["fc2.b"] = dh2.T @ h1, dh2.sum(0)
    dh1 = (dh2 @ p["fc2.w"]) * (h1 > 0)
    g["fc1.w"], g["fc1.b"] = dh1.T @ flat, dh1.sum(0)
    dp2 = (dh1 @ p["fc1.w"]).reshape(p2.shape)
    dc2 = maxpool_backward(dp2, p2_cache) * (c2 > 0)
    dp1, g["conv2.w"], g["conv2.b"] = conv_backward(dc2, p["conv2.w"], c2_cache)
    dc1 = maxpool_backward(dp1, p1_cache) * (c1 > 0)
    _, g["conv1.w"], g["conv1.b"] = conv_backward(dc1, p["conv1.w"], c1_cache)
    return float(loss), g


class SGDMomentum:
    """torch.optim.SGD's update with momentum, no dampening, no weight decay."""

    def __init__(self, params: dict, lr: float, momentum: float) -> None:
        self.params, self.lr, self.momentum = params, lr, momentum
        self.velocity: dict[str, np.ndarray] = {}

    def step(self, grads: dict) -> None:
        for name, grad in grads.items():
            v = self.velocity.get(name)
            v = grad.copy() if v is None else self.momentum * v + grad
            self.velocity[name] = v
            self.params[name] -= self.lr * v


def train_epoch(params, optimizer, x, y, batch_size: int, seed: int, max_batches: int = 0):
    """One shuffled epoch (or its first ``max_batches``); returns (batches, seconds, mean loss)."""
    order = np.random.default_rng(seed).permutation(len(y))
    batches = range(0, len(y), batch_size)
    if max_batches:
        batches = batches[:max_batches]
    losses = []
    started = time.perf_counter()
    for start in batches:
        idx = order[start : start + batch_size]
        loss, grads = loss_and_grads(params, x[idx], y[idx])
        optimizer.step(grads)
        losses.append(loss)
    return len(batches), time.perf_counter() - started, float(np.mean(losses))


def load_train_split(data_dir: Path):
    """The 55,000 training images (the data module's split), normalised as ``model=lenet``."""
    sys.path.insert(0, str(ROOT))
    from hydra_app.config_env import compose
    from training.components import datamodule

    cfg = compose(["model=lenet", f"paths.data_dir={data_dir}", "paths.output_dir=unused"])
    data = datamodule(cfg)
    data.setup()
    images, targets = data.splits["train"]
    x = data.to_model_input(images).numpy()
    return x, targets.numpy(), cfg.data.batch_size, cfg.optimizer.lr, cfg.optimizer.momentum


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=50, help="timed batches (0: a whole epoch)")
    parser.add_argument("--warmup-batches", type=int, default=5)
    parser.add_argument("--data-dir", type=Path, default=ROOT / "data")
    args = parser.parse_args()

    x, y, batch_size, lr, momentum = load_train_split(args.data_dir)
    params = init_params(seed=0)
    optimizer = SGDMomentum(params, lr, momentum)
    train_epoch(params, optimizer, x, y, batch_size, seed=1, max_batches=args.warmup_batches)
    batches, seconds, loss = train_epoch(params, optimizer, x, y, batch_size, 2, args.batches)
    per_epoch = seconds / batches * -(-len(y) // batch_size)
    print(
        json.dumps(
            {
                "batch_size": batch_size,
                "timed_batches": batches,
                "seconds": round(seconds, 3),
                "epoch_s": round(per_epoch, 2),
                "extrapolated": batches * batch_size < len(y),
                "mean_loss": round(loss, 4),
            }
        )
    )


if __name__ == "__main__":
    main()
