"""Reading a row-normalised confusion matrix: which classes are mistaken for which."""

from __future__ import annotations

from collections.abc import Sequence

import torch

TOP_CONFUSED_KEY = "test/top_confused"


def top_confused_pairs(
    matrix: torch.Tensor, class_names: Sequence[str], k: int = 5
) -> list[dict[str, object]]:
    """The ``k`` largest off-diagonal rates as ``{"true", "predicted", "rate"}``, largest first.

    ``matrix[i, j]`` is the share of class ``i`` predicted as ``j``; pairs never confused are
    left out.
    """
    n = matrix.shape[0]
    off_diagonal = matrix.float() * (1 - torch.eye(n, device=matrix.device))
    rates, flat = off_diagonal.flatten().topk(min(k, n * n))
    return [
        {"true": class_names[i // n], "predicted": class_names[i % n], "rate": round(rate, 4)}
        for rate, i in zip(rates.tolist(), flat.tolist(), strict=True)
        if rate > 0
    ]


def format_pair(pair: dict[str, object]) -> str:
    return f"{pair['true']} -> {pair['predicted']} {pair['rate']:.2f}"
