"""The report's sections, following the seed study's outline, each built from the runs' files.

A section names the ``studies`` entries of ``conf/report.yaml`` it reads (the constants below).
A run that is missing or failed becomes a visible :class:`Missing` block, never a gap.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import DictConfig

from analysis import claims, seed_groups
from callbacks.feature_embeddings import EMBEDDINGS_DIR, SHEET_NAME, TAPS_KEY
from callbacks.gradient_norms import GRAD_NORM_PREFIX
from callbacks.image_grids import (
    INTERPOLATIONS,
    PRIOR_SAMPLES,
    RECONSTRUCTIONS,
    SAMPLE_PIXEL_STD_KEY,
)
from callbacks.sweep_summary import Job, sample_sheet
from lightning_modules.vae import ACTIVE_UNITS, TEST_IW_NLL
from storage.run_files import save_figure
from study import figures
from study.collect import RunResult
from study.document import Claim, Figure, Missing, Section, Table, Text
from study.plan import StudyJob

# The entries of ``studies`` in conf/report.yaml and the keys they sweep.
CLASSIFIERS, ACTIVATIONS, CLASSIFIER_MOMENTUM = "classifiers", "activations", "classifier_momentum"
VAE, VAE_MOMENTUM, KL_WEIGHT = "vae", "vae_momentum", "kl_weight"
MODEL, SEED, ACTIVATION = "model", "seed", "model.activation"
MOMENTUM, KL_WEIGHT_KEY = "optimizer.momentum", "model.kl_weight"

ACC, LOSS = "acc", "loss"
TEST_ACC, VAL_ACC = "test/acc", "val/acc"
NELBO, RECON, KL = "test/nelbo", "test/recon", "test/kl"
HARD_PAIR = (2, 6)  # "classes 2 and 6 are hard to distinguish"
EMBEDDING_METHODS = {"pca": "PCA", "tsne": "t-SNE"}


@dataclass
class Study:
    """The study's jobs, their run dirs and the preset's settings (``cfg.preset``)."""

    directory: Path
    jobs: list[StudyJob]
    dirs: dict[StudyJob, Path]
    preset: DictConfig
    figure_dir: Path
    _results: dict[Path, RunResult] = field(default_factory=dict)

    def result(self, job: StudyJob) -> RunResult:
        directory = self.dirs[job]
        return self._results.setdefault(directory, RunResult(directory))

    def runs(self, study: str) -> list[tuple[StudyJob, RunResult]]:
        return [(job, self.result(job)) for job in self.jobs if job.study == study]

    def figure(self, figure, name: str) -> Path:
        return save_figure(figure, self.figure_dir / f"{name}.png")


def _missing(job: StudyJob, result: RunResult) -> Missing | None:
    """A Missing block for a run that did not finish, else None."""
    state = result.state
    if state.finished:
        return None
    why = state.status + (f" ({state.error})" if state.error else "")
    return Missing(f"run {job.label}", f"{why}; run dir {result.directory}")


def _usable(section: Section, runs: Sequence[tuple[StudyJob, RunResult]]):
    """The finished runs; a Missing block in ``section`` for each of the others."""
    kept = []
    for job, result in runs:
        missing = _missing(job, result)
        if missing is None:
            kept.append((job, result))
        else:
            section.add(missing)
    if not runs:
        section.add(Missing("runs", "this study has no jobs in the config"))
    return kept


def _by(runs, key: str) -> dict[object, list[RunResult]]:
    grouped: dict[object, list[RunResult]] = {}
    for job, result in runs:
        grouped.setdefault(job.params.get(key), []).append(result)
    return grouped


def _mean(values: Sequence[float | None]) -> float | None:
    return seed_groups.describe(values)["mean"]


def mean_std(values: Sequence[float | None]) -> str:
    """``mean ± std (n=k)``, the sample standard deviation over seeds; "n/a" without values."""
    stat = seed_groups.describe(values)
    return f"{seed_groups.mean_std_text(stat)} (n={stat['n']})" if stat["n"] else "n/a"


def _fmt(value: float | None, digits: int = 4) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.{digits}g}"


def _leaf_layers(rows: list[dict]) -> list[dict]:
    """The net's own layers (``net.*``) that hold no other layer."""
    names = [row["name"] for row in rows]
    return [
        row
        for row in rows
        if row["name"].startswith("net.")
        and not any(other.startswith(row["name"] + ".") for other in names)
    ]


def architectures(study: Study) -> Section:
    section = Section("Architectures")
    nets = {
        str(model): results[0]
        for model, results in _by(_usable(section, study.runs(CLASSIFIERS)), MODEL).items()
    }
    for job, result in _usable(section, study.runs(VAE)):
        nets[f"VAE ({job.name})" if len(study.runs(VAE)) > 1 else "VAE"] = result
    for name, result in nets.items():
        rows = result.architecture
        if not rows:
            section.add(
                Missing(f"{name} architecture", f"no architecture.json in {result.directory}")
            )
            continue
        total = next((row["params"] for row in rows if row["name"] == "net"), None)
        blocks: dict[str, int] = {}
        for row in _leaf_layers(rows):
            block = row["name"].split(".")[1]
            blocks[block] = blocks.get(block, 0) + row["params"]
        per_block = ", ".join(f"{block} {params:,}" for block, params in blocks.items())
        section.add(
            Text(f"{name}: {total:,} parameters ({per_block})."),
            Table(
                ["block", "layer", "type", "output shape", "parameters"],
                [
                    [
                        row["name"].split(".")[1],
                        row["name"].removeprefix("net."),
                        row["type"],
                        "×".join(str(s) for s in row["out_size"][1:])
                        if isinstance(row["out_size"], list)
                        else str(row["out_size"]),
                        f"{row['params']:,}",
                    ]
                    for row in _leaf_layers(rows)
                ],
                caption=f"{name}: layers in forward order (output shape without the batch)",
            ),
        )
    return section


def learning_curves(study: Study) -> Section:
    section = Section("Learning curves")
    nets = _by(_usable(section, study.runs(CLASSIFIERS)), MODEL)
    if not nets:
        return section
    groups = {
        str(model): {
            name: [r.curves.get(name, {}) for r in results] for name in _curve_names(results)
        }
        for model, results in nets.items()
    }
    path = study.figure(figures.curves_figure(groups, [LOSS, ACC]), "learning_curves")
    section.add(
        Figure(
            path,
            "Loss and accuracy per epoch, training (dashed) and validation (solid); "
            "the mean over seeds with the min-max band",
        ),
        Table(
            [
                "net",
                "parameters",
                "test accuracy (mean ± std over seeds)",
                "best validation accuracy",
            ],
            [
                [
                    str(model),
                    f"{int(results[0].number('num_params') or 0):,}",
                    mean_std([r.number(TEST_ACC) for r in results]),
                    mean_std([r.number(f"{VAL_ACC}_best") for r in results]),
                ]
                for model, results in nets.items()
            ],
            caption="Test accuracy is measured once, on the test split, with the checkpoint of "
            "the best validation accuracy; model selection never sees the test split",
        ),
    )
    return section


def _curve_names(results: Sequence[RunResult]) -> list[str]:
    return sorted({name for r in results for name in r.curves})


def _taps(results: Sequence[RunResult]) -> list[str]:
    for result in results:
        if result.metrics.get(TAPS_KEY):
            return list(result.metrics[TAPS_KEY])
    return []


def visualization(study: Study) -> Section:
    section = Section("Visualization of the layers")
    nets = _by(_usable(section, study.runs(CLASSIFIERS)), MODEL)
    for method, title in EMBEDDING_METHODS.items():
        sheets = {}
        for model, results in nets.items():
            sheet = results[0].file(f"{EMBEDDINGS_DIR}/{method}_{SHEET_NAME}.png")
            if sheet is None:
                section.add(
                    Missing(f"{title} of {model}", f"no {method} sheet in {results[0].directory}")
                )
            else:
                sheets[f"{model}: {title} of each tap"] = sheet
        if sheets:
            path = study.figure(figures.image_rows(sheets), f"embeddings_{method}")
            section.add(
                Figure(
                    path, f"{title} of the test images at each tap, coloured by class (first seed)"
                )
            )
    rows, tsne_scores = [], {}
    for model, results in nets.items():
        taps = _taps(results)
        tsne_scores[str(model)] = {}
        for tap in taps:
            scores = {
                space: _mean([r.number(f"separation/{space}/{tap}/knn_acc") for r in results])
                for space in ("features", *EMBEDDING_METHODS)
            }
            silhouette = _mean([r.number(f"separation/tsne/{tap}/silhouette") for r in results])
            tsne_scores[str(model)][tap] = scores["tsne"]
            rows.append(
                [
                    str(model),
                    tap,
                    *(_fmt(scores[s], 3) for s in ("features", *EMBEDDING_METHODS)),
                    _fmt(silhouette, 3),
                ]
            )
    if rows:
        section.add(
            Table(
                [
                    "net",
                    "tap",
                    "5-NN acc, features",
                    "5-NN acc, PCA",
                    "5-NN acc, t-SNE",
                    "silhouette, t-SNE",
                ],
                rows,
                caption="Class separation per tap (mean over seeds): 5-fold 5-nearest-neighbour "
                "accuracy and the silhouette score by class",
            )
        )
        taps = _taps([r for results in nets.values() for r in results])
        section.add(Claim(claims.deeper_layers_separate_better(tsne_scores, taps)))
    return section


def hardest_classes(study: Study) -> Section:
    section = Section("Hardest classes")
    nets = _by(_usable(section, study.runs(CLASSIFIERS)), MODEL)
    matrices, class_names = {}, []
    for model, results in nets.items():
        found = [r.confusion for r in results if r.confusion]
        if not found:
            section.add(
                Missing(f"confusion of {model}", f"no confusion matrix in {results[0].directory}")
            )
            continue
        class_names = found[0]["classes"]
        size = len(class_names)
        matrices[str(model)] = [
            [statistics.fmean(m["matrix"][i][j] for m in found) for j in range(size)]
            for i in range(size)
        ]
        if results[0].confusion_figure:
            section.add(
                Figure(
                    results[0].confusion_figure,
                    f"{model}: test confusion matrix, rows normalised (first seed)",
                )
            )
        top = claims.pair_rates(matrices[str(model)])[:5]
        section.add(
            Table(
                ["rank", "pair", "rate"],
                [
                    [str(k), f"{class_names[i]} ({i}) / {class_names[j]} ({j})", f"{rate:.3f}"]
                    for k, (i, j, rate) in enumerate(top, start=1)
                ],
                caption=f"{model}: most confused class pairs, the mean of both directions "
                f"(mean over {len(found)} seed(s))",
            )
        )
    if matrices and len(class_names) > max(HARD_PAIR):
        section.add(Claim(claims.hard_pair(matrices, HARD_PAIR, class_names)))
    elif matrices:
        section.add(Missing("the 2/6 claim", f"the data has only {len(class_names)} classes"))
    return section


def _first_epoch_norms(result: RunResult) -> dict[str, list[tuple[int, float]]]:
    """Gradient norm per weight of the net's layers over the first epoch, in forward order."""
    norms = result.scalars(GRAD_NORM_PREFIX)
    epochs = result.scalars("epoch").get("epoch", [])
    first_epoch_steps = [step for step, epoch in epochs if epoch == 0]
    last_step = max(first_epoch_steps) if first_epoch_steps else math.inf
    layers = [row["name"] for row in _leaf_layers(result.architecture or []) if row["params"]]
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
        for a, results in _by(_usable(section, study.runs(ACTIVATIONS)), ACTIVATION).items()
    }
    if not runs:
        return section
    norms = {activation: _first_epoch_norms(result) for activation, result in runs.items()}
    if any(any(points for points in layers.values()) for layers in norms.values()):
        path = study.figure(figures.gradient_figure(norms), "gradient_norms")
        section.add(Figure(path, "Gradient norm of each layer's weights during the first epoch"))
    else:
        section.add(Missing("gradient norms", "the runs logged no grad_norm/ scalars"))
    groups = {a: {n: [r.curves.get(n, {})] for n in r.curves} for a, r in runs.items()}
    path = study.figure(
        figures.curves_figure(groups, [LOSS, ACC], stages=("val",)), "activation_curves"
    )
    section.add(Figure(path, "Validation loss and accuracy per epoch"))
    ratios = {
        activation: _first_to_last_ratio(layer_norms) for activation, layer_norms in norms.items()
    }
    section.add(
        Table(
            ["activation", "first/last layer gradient norm (median, epoch 1)", "test accuracy"],
            [[a, _fmt(ratios[a], 3), _fmt(r.number(TEST_ACC))] for a, r in runs.items()],
        ),
        Claim(claims.sigmoid_vanishing_gradients(ratios)),
    )
    return section


def momentum(study: Study) -> Section:
    section = Section("Momentum")
    target = float(study.preset.target_val_acc)
    classifier = {
        float(m): r[0]
        for m, r in _by(_usable(section, study.runs(CLASSIFIER_MOMENTUM)), MOMENTUM).items()
    }
    if classifier:
        groups = {
            f"momentum {m:g}": {VAL_ACC: [r.curves.get(VAL_ACC, {})]} for m, r in classifier.items()
        }
        path = study.figure(
            figures.curves_figure(groups, [ACC], stages=("val",)), "momentum_classifier"
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
                        _fmt(r.number(f"{VAL_ACC}_best")),
                        _fmt(r.number(TEST_ACC)),
                    ]
                    for m, r in sorted(classifier.items())
                ],
            ),
            Claim(claims.momentum_speeds_training(epochs, target)),
        )
    vae_runs = study.runs(VAE_MOMENTUM)
    finished = _usable(section, vae_runs)
    by_momentum = {float(job.params[MOMENTUM]): (job, r) for job, r in finished}
    if by_momentum:
        diverged = [m for m, (_, r) in by_momentum.items() if r.state.status != "completed"]
        pixel_std = {m: r.number(SAMPLE_PIXEL_STD_KEY) for m, (_, r) in by_momentum.items()}
        section.add(
            Table(
                ["momentum", "status", "test −ELBO", "prior samples' mean pixel std"],
                [
                    [f"{m:g}", r.state.status, _fmt(r.number(NELBO)), _fmt(pixel_std[m], 3)]
                    for m, (_, r) in sorted(by_momentum.items())
                ],
                caption="The VAE trained by SGD at each momentum, at the same learning rate",
            )
        )
        _add_sheet(
            study,
            section,
            [j for j, _ in by_momentum.values()],
            MOMENTUM,
            "momentum_vae",
            "Prior samples of the VAE at each momentum",
        )
        section.add(Claim(claims.large_momentum_flat_images(pixel_std, diverged)))
    return section


def _add_sheet(
    study: Study, section: Section, jobs: list[StudyJob], key: str, name: str, caption: str
) -> None:
    sheet_jobs = [
        Job(job.name, study.dirs[job], {key: job.params[key]}, study.result(job).metrics)
        for job in jobs
    ]
    sheet = sample_sheet(sheet_jobs, [key])
    if sheet is None:
        section.add(Missing(caption, "the runs drew no prior samples"))
    else:
        section.add(Figure(study.figure(sheet, name), caption))


def vae(study: Study) -> Section:
    section = Section("VAE: fake images, reconstructions, interpolations")
    for _, result in _usable(section, study.runs(VAE)):
        for name, caption in (
            (PRIOR_SAMPLES, "Fake images: decodings of draws from the prior"),
            (RECONSTRUCTIONS, "Test images (top) and their reconstructions (bottom)"),
            (
                INTERPOLATIONS,
                "Linear interpolation in latent space between test images of two classes",
            ),
        ):
            path = result.grid(name)
            section.add(
                Figure(path, caption, enlarge=True)
                if path
                else Missing(caption, f"no {name} grid in {result.directory}")
            )
        section.add(
            Table(
                [
                    "test −ELBO",
                    "test IW bound on −log p(x)",
                    "reconstruction",
                    "KL",
                    "active units",
                ],
                [
                    [
                        _fmt(result.number(k), 5)
                        for k in (NELBO, TEST_IW_NLL, RECON, KL, ACTIVE_UNITS)
                    ]
                ],
                caption="Nats per image on the test split; active latent units on validation",
            )
        )
    return section


def kl_weight(study: Study) -> Section:
    section = Section("KL weight")
    finished = _usable(section, study.runs(KL_WEIGHT))
    by_weight = {float(job.params[KL_WEIGHT_KEY]): (job, r) for job, r in finished}
    if not by_weight:
        return section
    recon = {w: r.number(RECON) for w, (_, r) in by_weight.items()}
    kl = {w: r.number(KL) for w, (_, r) in by_weight.items()}
    section.add(
        Table(
            ["KL weight", "reconstruction", "KL", "−ELBO"],
            [
                [f"{w:g}", _fmt(recon[w]), _fmt(kl[w]), _fmt(r.number(NELBO))]
                for w, (_, r) in sorted(by_weight.items())
            ],
            caption="Test terms in nats per image; −ELBO is reconstruction + KL at weight 1",
        )
    )
    points = {
        f"weight {w:g}": (kl[w], recon[w])
        for w in by_weight
        if kl[w] is not None and recon[w] is not None
    }
    if points:
        path = study.figure(
            figures.tradeoff_figure(points, "KL term (nats)", "reconstruction term (nats)"),
            "kl_tradeoff",
        )
        section.add(Figure(path, "Reconstruction against KL for each KL weight"))
    _add_sheet(
        study,
        section,
        [j for j, _ in by_weight.values()],
        KL_WEIGHT_KEY,
        "kl_samples",
        "Prior samples at each KL weight",
    )
    section.add(Claim(claims.small_kl_weight(recon, kl)))
    return section


SECTIONS: tuple[Callable[[Study], Section], ...] = (
    architectures,
    learning_curves,
    visualization,
    hardest_classes,
    activations,
    momentum,
    vae,
    kl_weight,
)
