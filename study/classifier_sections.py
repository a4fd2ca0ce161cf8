"""Sections on the two classifiers: architectures, learning curves, layer embeddings, confusions."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from analysis import claims
from callbacks.feature_embeddings import EMBEDDINGS_DIR, SHEET_NAME, TAPS_KEY
from study import comparison_figures
from study.collect import RunResult
from study.document import Claim, Figure, Missing, Section, Table, Text
from study.results import (
    ACC,
    CLASSIFIERS,
    EMBEDDING_METHODS,
    HARD_PAIR,
    LOSS,
    MODEL,
    TEST_ACC,
    VAE,
    VAL_ACC,
    Study,
    by_param,
    fmt,
    leaf_layers,
    mean,
    mean_std,
    usable,
)


def architectures(study: Study) -> Section:
    section = Section("Architectures")
    nets = {
        str(model): results[0]
        for model, results in by_param(usable(section, study.runs(CLASSIFIERS)), MODEL).items()
    }
    for job, result in usable(section, study.runs(VAE)):
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
        for row in leaf_layers(rows):
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
                    for row in leaf_layers(rows)
                ],
                caption=f"{name}: layers in forward order (output shape without the batch)",
            ),
        )
    return section


def learning_curves(study: Study) -> Section:
    section = Section("Learning curves")
    nets = by_param(usable(section, study.runs(CLASSIFIERS)), MODEL)
    if not nets:
        return section
    groups = {
        str(model): {
            name: [r.curves.get(name, {}) for r in results] for name in _curve_names(results)
        }
        for model, results in nets.items()
    }
    path = study.figure(comparison_figures.curves_figure(groups, [LOSS, ACC]), "learning_curves")
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
    nets = by_param(usable(section, study.runs(CLASSIFIERS)), MODEL)
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
            path = study.figure(comparison_figures.image_rows(sheets), f"embeddings_{method}")
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
                space: mean([r.number(f"separation/{space}/{tap}/knn_acc") for r in results])
                for space in ("features", *EMBEDDING_METHODS)
            }
            silhouette = mean([r.number(f"separation/tsne/{tap}/silhouette") for r in results])
            tsne_scores[str(model)][tap] = scores["tsne"]
            rows.append(
                [
                    str(model),
                    tap,
                    *(fmt(scores[s], 3) for s in ("features", *EMBEDDING_METHODS)),
                    fmt(silhouette, 3),
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
    nets = by_param(usable(section, study.runs(CLASSIFIERS)), MODEL)
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
