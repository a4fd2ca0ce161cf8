"""The seed study's claims as rules: each outcome from hand-made numbers."""

from __future__ import annotations

import pytest

from analysis import claims
from analysis.claims import NOT_REPRODUCED, PARTLY, REPRODUCED

NAMES = [f"class{i}" for i in range(4)]


def confusion(rates: dict[tuple[int, int], float], n: int = 4) -> list[list[float]]:
    """Row-normalised matrix with the given off-diagonal rates; the rest on the diagonal."""
    matrix = [[0.0] * n for _ in range(n)]
    for (i, j), rate in rates.items():
        matrix[i][j] = rate
    for i in range(n):
        matrix[i][i] = 1 - sum(matrix[i])
    return matrix


def test_pair_rank_uses_both_directions():
    matrix = confusion({(0, 1): 0.3, (2, 3): 0.2, (3, 2): 0.2})
    # 0/1: (0.3 + 0) / 2 = 0.15 < 2/3: 0.2, so 2/3 ranks first.
    assert claims.pair_rank(matrix, (3, 2)) == (1, pytest.approx(0.2))
    assert claims.pair_rank(matrix, (1, 0)) == (2, pytest.approx(0.15))
    with pytest.raises(ValueError, match="outside a 4-class"):
        claims.pair_rank(matrix, (0, 7))


@pytest.mark.parametrize(
    ("rates_b", "outcome"),
    [
        ({(2, 3): 0.2}, REPRODUCED),  # first for both nets
        ({(0, 1): 0.3, (2, 3): 0.1}, PARTLY),  # second for one net
        ({(0, 1): 0.3, (0, 2): 0.3, (0, 3): 0.3, (1, 2): 0.3}, PARTLY),  # still first for net a
    ],
)
def test_hard_pair(rates_b, outcome):
    nets = {"a": confusion({(2, 3): 0.2}), "b": confusion(rates_b)}
    verdict = claims.hard_pair(nets, (2, 3), NAMES)
    assert verdict.outcome == outcome
    assert "class2" in verdict.claim and "rank" in verdict.evidence


def test_hard_pair_not_reproduced_when_far_down_for_every_net():
    far = confusion({(0, 1): 0.3, (0, 2): 0.3, (0, 3): 0.3, (1, 2): 0.3, (1, 3): 0.3})
    assert claims.hard_pair({"a": far}, (2, 3), NAMES).outcome == NOT_REPRODUCED


def test_epochs_to_reach():
    assert claims.epochs_to_reach({0: 0.5, 1: 0.8, 2: 0.9}, 0.8) == 2
    assert claims.epochs_to_reach({0: 0.5}, 0.8) is None


@pytest.mark.parametrize(
    ("epochs", "outcome"),
    [
        ({0.0: 9, 0.5: 5, 0.9: 2}, REPRODUCED),
        ({0.0: None, 0.5: 6, 0.9: 3}, REPRODUCED),  # momentum 0 never gets there
        ({0.0: 9, 0.5: 2, 0.9: 4}, PARTLY),  # faster, not monotone
        ({0.0: 3, 0.5: 3, 0.9: 3}, NOT_REPRODUCED),
        ({0.0: None, 0.9: None}, NOT_REPRODUCED),
    ],
)
def test_momentum_speeds_training(epochs, outcome):
    assert claims.momentum_speeds_training(epochs, 0.88).outcome == outcome


@pytest.mark.parametrize(
    ("pixel_std", "diverged", "outcome"),
    [
        ({0.0: 0.3, 0.9: 0.25, 0.99: 0.01}, [], REPRODUCED),
        ({0.0: 0.3, 0.9: 0.25, 0.99: None}, [0.99], PARTLY),
        ({0.0: 0.3, 0.99: 0.1}, [], PARTLY),  # below half, not flat
        ({0.0: 0.3, 0.99: 0.28}, [], NOT_REPRODUCED),
        ({0.0: 0.01, 0.99: 0.01}, [], NOT_REPRODUCED),  # all flat: momentum is not the cause
    ],
)
def test_large_momentum_flat_images(pixel_std, diverged, outcome):
    assert claims.large_momentum_flat_images(pixel_std, diverged).outcome == outcome


@pytest.mark.parametrize(
    ("active_units", "outcome"),
    [
        ({0.0: 16, 0.9: 16, 0.99: 0}, PARTLY),  # one image for every sample, not one colour
        ({0.0: 0, 0.9: 16, 0.99: 0}, NOT_REPRODUCED),  # momentum 0 collapses too
        ({0.0: 16, 0.5: 0, 0.99: 16}, NOT_REPRODUCED),  # only a momentum below 0.9 collapses
        ({0.0: 16, 0.9: 16, 0.99: None}, NOT_REPRODUCED),  # not measured
    ],
)
def test_collapse_at_large_momentum_is_partly(active_units, outcome):
    pixel_std = {m: 0.25 for m in active_units}  # no sample flat, none below half of another
    verdict = claims.large_momentum_flat_images(pixel_std, [], active_units)
    assert verdict.outcome == outcome
    if active_units[0.0] is not None:
        assert f"({active_units[0.0]:g} active units)" in verdict.evidence


@pytest.mark.parametrize(
    ("ratios", "outcome"),
    [
        ({"relu": 0.5, "sigmoid": 0.001}, REPRODUCED),
        ({"relu": 0.5, "sigmoid": 0.2}, PARTLY),
        ({"relu": 0.05, "sigmoid": 0.02}, PARTLY),  # below 0.1 but not a tenth of ReLU's
        ({"relu": 0.5, "sigmoid": 0.4}, NOT_REPRODUCED),
        ({"relu": 0.5, "sigmoid": None}, NOT_REPRODUCED),
    ],
)
def test_sigmoid_vanishing_gradients(ratios, outcome):
    assert claims.sigmoid_vanishing_gradients(ratios).outcome == outcome


@pytest.mark.parametrize(
    ("recon", "kl", "outcome"),
    [
        ({0.1: 200.0, 1.0: 230.0, 4.0: 260.0}, {0.1: 40.0, 1.0: 20.0, 4.0: 8.0}, REPRODUCED),
        ({0.1: 200.0, 1.0: 230.0}, {0.1: 25.0, 1.0: 20.0}, PARTLY),  # KL only 1.25x
        ({0.1: 240.0, 1.0: 230.0}, {0.1: 40.0, 1.0: 20.0}, NOT_REPRODUCED),
        ({0.1: 200.0, 1.0: None}, {0.1: 40.0, 1.0: None}, NOT_REPRODUCED),  # nothing to compare
    ],
)
def test_small_kl_weight(recon, kl, outcome):
    assert claims.small_kl_weight(recon, kl).outcome == outcome


@pytest.mark.parametrize(
    ("scores", "outcome"),
    [
        (
            {"a": {"conv": 0.7, "fc": 0.8, "out": 0.9}, "b": {"conv": 0.6, "fc": 0.7, "out": 0.8}},
            REPRODUCED,
        ),
        ({"a": {"conv": 0.7, "fc": 0.9, "out": 0.8}}, PARTLY),
        ({"a": {"conv": 0.9, "fc": 0.8, "out": 0.8}}, NOT_REPRODUCED),
        ({"a": {"conv": 0.7, "fc": None, "out": 0.9}}, NOT_REPRODUCED),
    ],
)
def test_deeper_layers_separate_better(scores, outcome):
    verdict = claims.deeper_layers_separate_better(scores, ["conv", "fc", "out"])
    assert verdict.outcome == outcome
    assert "conv -> fc -> out" in verdict.rule
