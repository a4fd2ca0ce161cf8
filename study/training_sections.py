"""Sections on how training behaves: ReLU against sigmoid, and momentum for both models."""

from __future__ import annotations

import math
import statistics

from analysis import claims
from callbacks.gradient_norms import GRAD_NORM_PREFIX
from callbacks.image_grids import SAMPLE_PIXEL_STD_KEY
from lightning_modules.vae import ACTIVE_UNITS
from storage.run_files import COMPLETED
from study import comparison_figures
from study.collect import RunResult
from study.document import Claim, Figure, Missing, Section, Table
from study.results import (
    ACC,
    ACTIVATION,
    ACTIVATIONS,
    CLASSIFIER_MOMENTUM,
    LOSS,
    MOMENTUM,
    NELBO,
    TEST_ACC,
    VAE_MOMENTUM,
    VAL_ACC,
    Study,
    add_sample_sheet,
    by_param,
    fmt,
    leaf_layers,
    usable,
)


def _first_epoch_norms(result: RunResult) -> dict[str, list[tuple[int, float]]]:
    """Gradient norm per weight of the net's layers over the first epoch, in forward order."""
    norms = result.scalars(GRAD_NORM_PREFIX)
    epochs = result.scalars("epoch").get("epoch", [])
    first_epoch_steps = [step for step, epoch in epochs if epoch == 0]
    last_step = max(first_epoch_steps) if first_epoch_steps else math.inf
    layers = [row["name"] for row in leaf_layers(result.architecture or []) if row["params"]]
    ordered = {}
    for layer in layers:
        points = norms.get(f"{GRAD_NORM_PREFIX}{layer}.weight", [])
        ordered[layer.removeprefix("net.")] = [(s, v) for s, v in points if s <= last_step]
    return ordered


def _first_to_last_ratio(norms: dict[str, list[tuple[int, float]]]) -> float | None:
    layers = [layer for layer, points in norms.items() if points]
    if len(layers) < 2:
        return None
    first, last = dict(norms[layers[0]]), dict(norms[layers[-1]])
    ratios = [first[s] / last[s] for s in first.keys() & last.keys() if last[s] > 0]
    return statistics.median(ratios) if ratios else None


def activations(study: Study) -> Section:
    section = Section("Activations: ReLU against sigmoid")
    runs = {
        str(a): results[0]
        for a, results in by_param(usable(section, study.runs(ACTIVATIONS)), ACTIVATION).items()
    }
    if not runs:
        return section
    norms = {activation: _first_epoch_norms(result) for activation, result in runs.items()}
    if any(any(points for points in layers.values()) for layers in norms.values()):
        path = study.figure(comparison_figures.gradient_figure(norms), "gradient_norms")
        section.add(Figure(path, "Gradient norm of each layer's weights during the first epoch"))
    else:
        section.add(Missing("gradient norms", "the runs logged no grad_norm/ scalars"))
    groups = {a: {n: [r.curves.get(n, {})] for n in r.curves} for a, r in runs.items()}
    path = study.figure(
        comparison_figures.curves_figure(groups, [LOSS, ACC], stages=("val",)), "activation_curves"
    )
    section.add(Figure(path, "Validation loss and accuracy per epoch"))
    ratios = {
        activation: _first_to_last_ratio(layer_norms) for activation, layer_norms in norms.items()
    }
    section.add(
        Table(
            ["activation", "first/last layer gradient norm (median, epoch 1)", "test accuracy"],
            [[a, fmt(ratios[a], 3), fmt(r.number(TEST_ACC))] for a, r in runs.items()],
        ),
        Claim(claims.sigmoid_vanishing_gradients(ratios)),
    )
    return section


def momentum(study: Study) -> Section:
    section = Section("Momentum")
    target = float(study.preset.target_val_acc)
    classifier = {
        float(m): r[0]
        for m, r in by_param(usable(section, study.runs(CLASSIFIER_MOMENTUM)), MOMENTUM).items()
    }
    if classifier:
        groups = {
            f"momentum {m:g}": {VAL_ACC: [r.curves.get(VAL_ACC, {})]} for m, r in classifier.items()
        }
        path = study.figure(
            comparison_figures.curves_figure(groups, [ACC], stages=("val",)), "momentum_classifier"
        )
        epochs = {
            m: claims.epochs_to_reach(r.curves.get(VAL_ACC, {}), target)
            for m, r in classifier.items()
        }
        section.add(
            Figure(path, "LeNet-5 validation accuracy per epoch for each SGD momentum"),
            Table(
                [
                    "momentum",
                    f"epochs to validation accuracy {target:g}",
                    "best validation accuracy",
                    "test accuracy",
                ],
                [
                    [
                        f"{m:g}",
                        str(epochs[m] or "never"),
                        fmt(r.number(f"{VAL_ACC}_best")),
                        fmt(r.number(TEST_ACC)),
                    ]
                    for m, r in sorted(classifier.items())
                ],
            ),
            Claim(claims.momentum_speeds_training(epochs, target)),
        )
    vae_runs = study.runs(VAE_MOMENTUM)
    finished = usable(section, vae_runs)
    by_momentum = {float(job.params[MOMENTUM]): (job, r) for job, r in finished}
    if by_momentum:
        diverged = [m for m, (_, r) in by_momentum.items() if r.state.status != COMPLETED]
        pixel_std = {m: r.number(SAMPLE_PIXEL_STD_KEY) for m, (_, r) in by_momentum.items()}
        active_units = {m: r.number(ACTIVE_UNITS) for m, (_, r) in by_momentum.items()}
        section.add(
            Table(
                [
                    "momentum",
                    "status",
                    "test −ELBO",
                    "prior samples' mean pixel std",
                    "active latent units",
                ],
                [
                    [
                        f"{m:g}",
                        r.state.status,
                        fmt(r.number(NELBO)),
                        fmt(pixel_std[m], 3),
                        fmt(active_units[m]),
                    ]
                    for m, (_, r) in sorted(by_momentum.items())
                ],
                caption="The VAE trained by SGD at each momentum, at the same learning rate",
            )
        )
        add_sample_sheet(
            study,
            section,
            [j for j, _ in by_momentum.values()],
            MOMENTUM,
            "momentum_vae",
            "Prior samples of the VAE at each momentum",
        )
        section.add(Claim(claims.large_momentum_flat_images(pixel_std, diverged, active_units)))
    return section
