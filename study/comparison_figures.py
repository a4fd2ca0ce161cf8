"""The figures the report draws from several runs at once (one run's own figures are reused)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

Curves = Mapping[int, float]  # epoch (from 0) -> value


def _figure(panels: int, width: float = 5.0, height: float = 3.8):
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width * panels, height))
    return figure, [figure.add_subplot(1, panels, i + 1) for i in range(panels)]


def _mean_band(ax, runs: Sequence[Curves], label: str, **style) -> None:
    """Mean over ``runs`` per epoch, with the min-max band when there are several."""
    epochs = sorted(set().union(*(r.keys() for r in runs)))
    if not epochs:
        return
    values = [[r[e] for r in runs if e in r] for e in epochs]
    x = [e + 1 for e in epochs]
    (line,) = ax.plot(
        x, [np.mean(v) for v in values], marker="o", markersize=3, label=label, **style
    )
    if len(runs) > 1:
        ax.fill_between(
            x, [min(v) for v in values], [max(v) for v in values], color=line.get_color(), alpha=0.2
        )


def curves_figure(
    groups: Mapping[str, Mapping[str, Sequence[Curves]]],
    metrics: Sequence[str],
    stages=("train", "val"),
):
    """One panel per metric; for each group (e.g. a net) and stage, its runs' mean curve with a
    min-max band. ``groups``: label -> metric with stage (``val/acc``) -> curves of its runs."""
    figure, axes = _figure(len(metrics))
    for ax, metric in zip(axes, metrics, strict=True):
        for index, (label, by_metric) in enumerate(groups.items()):
            color = f"C{index}"
            for stage in stages:
                runs = by_metric.get(f"{stage}/{metric}", [])
                style = {"color": color, "linestyle": "-" if stage == "val" else "--"}
                _mean_band(
                    ax, runs, f"{label} {'validation' if stage == 'val' else stage}", **style
                )
        ax.set_xlabel("epoch")
        ax.set_title(metric)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    figure.tight_layout()
    return figure


def gradient_figure(norms: Mapping[str, Mapping[str, Sequence[tuple[int, float]]]]):
    """One panel per activation: each layer's gradient norm against the step, log scale.
    ``norms``: panel title -> layer -> [(step, norm)]."""
    figure, axes = _figure(len(norms), height=3.6)
    for ax, (title, layers) in zip(axes, norms.items(), strict=True):
        for layer, points in layers.items():
            if points:
                steps, values = zip(*points, strict=True)
                ax.plot(steps, values, label=layer)
        ax.set_yscale("log")
        ax.set_xlabel("step (first epoch)")
        ax.set_title(f"gradient norm per layer: {title}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="x-small")
    figure.tight_layout()
    return figure


def tradeoff_figure(points: Mapping[str, tuple[float, float]], x_label: str, y_label: str):
    """A labelled scatter, e.g. reconstruction term against KL term per KL weight."""
    figure, (ax,) = _figure(1, width=5.5)
    for label, (x, y) in points.items():
        ax.scatter([x], [y])
        ax.annotate(label, (x, y), textcoords="offset points", xytext=(5, 5), fontsize="small")
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    ax.grid(alpha=0.3)
    figure.tight_layout()
    return figure


def image_rows(images: Mapping[str, Path]):
    """Existing PNGs stacked in rows, each titled by its key (e.g. one net's embedding sheet)."""
    from matplotlib.figure import Figure
    from matplotlib.image import imread

    loaded = {title: imread(path) for title, path in images.items()}
    heights = [image.shape[0] / image.shape[1] for image in loaded.values()]
    figure = Figure(figsize=(12, 12 * sum(heights) + 0.4 * len(loaded)))
    axes = figure.subplots(len(loaded), 1, squeeze=False)[:, 0]
    for ax, (title, image) in zip(axes, loaded.items(), strict=True):
        ax.imshow(image)
        ax.set_title(title)
        ax.axis("off")
    figure.tight_layout()
    return figure
