"""The seed study's observations as rules on measured numbers: each gives a :class:`Verdict`.

Every rule states its thresholds in its ``rule`` text, so a reader sees what decided the outcome,
and takes only numbers (no run files), so it can be tested on hand-made values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

REPRODUCED = "reproduced"
PARTLY = "partly"
NOT_REPRODUCED = "not reproduced"
OUTCOMES = (REPRODUCED, PARTLY, NOT_REPRODUCED)

# Prior samples whose pixels vary less than this (pixels in [0, 1]) are flat, one colour.
FLAT_PIXEL_STD = 0.05
# Gradients vanish when the first layer's norm is below this share of the last layer's.
VANISHING_RATIO = 0.1
# A small KL weight's posterior "strays from the prior" when its KL is this many times weight 1's.
KL_STRAY_FACTOR = 1.5


@dataclass(frozen=True)
class Verdict:
    claim: str  # the seed's observation, in its words
    outcome: str  # one of OUTCOMES
    rule: str  # what decides the outcome, written out
    evidence: str  # the numbers that decided it


def _fmt(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.{digits}g}"


def pair_rates(matrix: Sequence[Sequence[float]]) -> list[tuple[int, int, float]]:
    """Unordered class pairs ``(i, j, rate)``, most confused first; ``rate`` is the mean of the
    two directions of a row-normalised confusion matrix."""
    n = len(matrix)
    pairs = [(i, j, (matrix[i][j] + matrix[j][i]) / 2) for i in range(n) for j in range(i + 1, n)]
    return sorted(pairs, key=lambda p: -p[2])


def pair_rank(matrix: Sequence[Sequence[float]], pair: tuple[int, int]) -> tuple[int, float]:
    """1-based rank of the unordered ``pair`` among all pairs, and its rate."""
    wanted = tuple(sorted(pair))
    for rank, (i, j, rate) in enumerate(pair_rates(matrix), start=1):
        if (i, j) == wanted:
            return rank, rate
    raise ValueError(f"pair {pair} is outside a {len(matrix)}-class confusion matrix")


def hard_pair(
    matrices: Mapping[str, Sequence[Sequence[float]]],
    pair: tuple[int, int],
    class_names: Sequence[str],
    top: int = 3,
) -> Verdict:
    """``matrices``: net name -> its row-normalised test confusion matrix."""
    a, b = (class_names[k] for k in pair)
    ranks = {net: pair_rank(m, pair) for net, m in matrices.items()}
    first = all(rank == 1 for rank, _ in ranks.values())
    near = any(rank <= top for rank, _ in ranks.values())
    total = len(pair_rates(next(iter(matrices.values())))) if matrices else 0
    return Verdict(
        claim=f"Classes {pair[0]} and {pair[1]} ({a}, {b}) are hard to distinguish",
        outcome=REPRODUCED if ranks and first else PARTLY if near else NOT_REPRODUCED,
        rule=(
            f"reproduced if {a}/{b} is the most confused pair (mean of both directions of the "
            f"test confusion matrix) for every net; partly if it is in the top {top} for one"
        ),
        evidence="; ".join(
            f"{net}: rank {rank} of {total}, rate {rate:.3f}" for net, (rank, rate) in ranks.items()
        )
        or "no confusion matrix",
    )


def epochs_to_reach(curve: Mapping[int, float], target: float) -> int | None:
    """Epochs of training (1-based) until ``curve`` (epoch from 0 -> value) first reaches
    ``target``, or None if it never does."""
    for epoch in sorted(curve):
        if curve[epoch] >= target:
            return epoch + 1
    return None


def momentum_speeds_training(epochs: Mapping[float, int | None], target: float) -> Verdict:
    """``epochs``: momentum -> epochs to reach ``target`` validation accuracy (None: never)."""
    order = sorted(epochs)
    needed = [math.inf if epochs[m] is None else epochs[m] for m in order]
    faster = len(order) >= 2 and needed[-1] < needed[0]
    monotone = all(later <= earlier for earlier, later in pairwise(needed))
    return Verdict(
        claim="Momentum in gradient descent greatly speeds up training",
        outcome=REPRODUCED if faster and monotone else PARTLY if faster else NOT_REPRODUCED,
        rule=(
            f"epochs until validation accuracy first reaches {target:g}: reproduced if the "
            "largest momentum needs fewer than momentum 0 and no larger momentum needs more "
            "than a smaller one; partly if only the first holds"
        ),
        evidence=", ".join(
            f"momentum {m:g}: {'never' if epochs[m] is None else epochs[m]}" for m in order
        ),
    )


def large_momentum_flat_images(
    pixel_std: Mapping[float, float | None],
    diverged: Sequence[float] = (),
    active_units: Mapping[float, float | None] | None = None,
) -> Verdict:
    """``pixel_std``: momentum -> mean pixel std of its prior samples (None: no samples);
    ``diverged``: the momenta whose runs diverged; ``active_units``: momentum -> latent dims in
    use (0: the posterior collapsed onto the prior, so every sample decodes to one image: the
    seed's "local minimum", whether or not that image is one colour)."""
    order = sorted(pixel_std)
    units = active_units or {}
    flat = [m for m in order if pixel_std[m] is not None and pixel_std[m] < FLAT_PIXEL_STD]
    smallest_flat = order and order[0] in flat
    large_flat = [m for m in flat if m >= 0.9]
    large_broken = [m for m in diverged if m >= 0.9]
    collapsed = [m for m in order if units.get(m) == 0]
    large_collapsed = order and order[0] not in collapsed and any(m >= 0.9 for m in collapsed)
    if large_flat and not smallest_flat:
        outcome = REPRODUCED
    elif large_broken or large_collapsed or (len(order) >= 2 and _drops_by_half(pixel_std, order)):
        outcome = PARTLY
    else:
        outcome = NOT_REPRODUCED

    def evidence(m: float) -> str:
        if m in diverged:
            return f"momentum {m:g}: diverged"
        shown = f"momentum {m:g}: {_fmt(pixel_std[m])}"
        return f"{shown} ({_fmt(units[m])} active units)" if units.get(m) is not None else shown

    return Verdict(
        claim="A large momentum gives images in one pure colour",
        outcome=outcome,
        rule=(
            f"mean pixel std of the prior samples (pixels in [0, 1]); reproduced if a momentum "
            f">= 0.9 gives flat samples (std < {FLAT_PIXEL_STD}) while the smallest momentum does "
            "not; partly if a momentum >= 0.9 diverges, or collapses (no active latent unit, so "
            "every sample is the same image) while the smallest does not, or the largest "
            "momentum's std is below half the smallest's"
        ),
        evidence=", ".join(evidence(m) for m in order),
    )


def _drops_by_half(pixel_std: Mapping[float, float | None], order: list[float]) -> bool:
    low, high = pixel_std[order[0]], pixel_std[order[-1]]
    return low is not None and high is not None and high < low / 2


def sigmoid_vanishing_gradients(ratios: Mapping[str, float | None]) -> Verdict:
    """``ratios``: activation -> median over the first epoch of the first layer's gradient norm
    divided by the last layer's; needs ``relu`` and ``sigmoid``."""
    relu, sigmoid = ratios.get("relu"), ratios.get("sigmoid")
    known = relu is not None and sigmoid is not None
    vanishes = known and sigmoid < VANISHING_RATIO and sigmoid * 10 <= relu
    weaker = known and sigmoid * 2 <= relu
    return Verdict(
        claim="Sigmoid activations make LeNet's gradients vanish",
        outcome=REPRODUCED if vanishes else PARTLY if weaker else NOT_REPRODUCED,
        rule=(
            "first-layer gradient norm over last-layer gradient norm, median over epoch 1: "
            f"reproduced if sigmoid's is below {VANISHING_RATIO} and a tenth of ReLU's; partly "
            "if it is below half of ReLU's"
        ),
        evidence=f"ReLU: {_fmt(relu)}, sigmoid: {_fmt(sigmoid)}",
    )


def small_kl_weight(
    recon: Mapping[float, float | None], kl: Mapping[float, float | None]
) -> Verdict:
    """``recon``/``kl``: KL weight -> test reconstruction term and KL term (nats per image)."""
    weights = sorted(w for w in recon if recon[w] is not None and kl.get(w) is not None)
    small = weights[0] if weights else None
    reference = 1.0 if 1.0 in weights else (weights[-1] if weights else None)
    comparable = small is not None and reference is not None and small < reference
    sharper = comparable and recon[small] < recon[reference]
    strays = comparable and kl[small] >= KL_STRAY_FACTOR * kl[reference]
    return Verdict(
        claim="A too small KL weight reconstructs well but generates badly",
        outcome=REPRODUCED if sharper and strays else PARTLY if sharper else NOT_REPRODUCED,
        rule=(
            f"the smallest weight against weight {_fmt(reference)}: reproduced if its test "
            f"reconstruction term is lower and its KL at least {KL_STRAY_FACTOR}x higher (a "
            "posterior far from the prior, so prior samples fall where the decoder never "
            "trained); partly if only the reconstruction is better"
        ),
        evidence=", ".join(
            f"weight {w:g}: recon {_fmt(recon[w], 4)}, KL {_fmt(kl[w], 4)}" for w in weights
        )
        or "no finished run",
    )


def deeper_layers_separate_better(
    separation: Mapping[str, Mapping[str, float | None]], taps: Sequence[str]
) -> Verdict:
    """``separation``: net -> tap -> class separation (kNN accuracy in the 2-D map); ``taps``
    from the input side to the output."""
    rises, ends_higher = [], []
    for scores in separation.values():
        values = [scores.get(tap) for tap in taps]
        known = all(v is not None for v in values)
        rises.append(known and all(b > a for a, b in pairwise(values)))
        ends_higher.append(known and values[-1] > values[0])
    any_net = bool(separation)
    return Verdict(
        claim="Deeper layers separate the classes better",
        outcome=(
            REPRODUCED
            if any_net and all(rises)
            else PARTLY
            if any_net and all(ends_higher)
            else NOT_REPRODUCED
        ),
        rule=(
            f"5-NN accuracy in the t-SNE map of each tap ({' -> '.join(taps)}): reproduced if "
            "it rises from tap to tap in every net; partly if the last tap beats the first in "
            "every net"
        ),
        evidence="; ".join(
            f"{net}: " + ", ".join(f"{tap} {_fmt(scores.get(tap))}" for tap in taps)
            for net, scores in separation.items()
        )
        or "no embeddings",
    )
