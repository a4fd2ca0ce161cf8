"""Matplotlib figures of class structure: 2-D embeddings coloured by class, confusion matrices.

Figures are built with the object-oriented API (no pyplot state), so callbacks can render
them in any process; :func:`draw` renders one once for both its PNG and TensorBoard.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np

from storage.run_files import save_png


def _class_colors(num_classes: int):
    from matplotlib import colormaps

    palette = colormaps["tab10" if num_classes <= 10 else "tab20"]
    return [palette(i % palette.N) for i in range(num_classes)]


def _scatter_classes(ax, points: np.ndarray, labels: np.ndarray, class_names: Sequence[str]):
    colors = _class_colors(len(class_names))
    handles = []
    for index, name in enumerate(class_names):
        mine = labels == index
        handles.append(
            ax.scatter(
                points[mine, 0],
                points[mine, 1],
                s=4,
                alpha=0.7,
                color=colors[index],
                label=name,
                rasterized=True,
            )
        )
    ax.set_xticks([])
    ax.set_yticks([])
    return handles


def _legend(figure, handles, class_names: Sequence[str]) -> None:
    # "outside" places the legend beside the axes under constrained layout, so it is never cut off.
    figure.legend(
        handles, class_names, loc="outside right center", markerscale=3, fontsize=8, frameon=False
    )


def embedding_figure(
    points: np.ndarray, labels: np.ndarray, class_names: Sequence[str], title: str
):
    """One 2-D embedding, one colour per class, class names in the legend."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.5, 5), layout="constrained")
    ax = figure.add_subplot()
    handles = _scatter_classes(ax, points, labels, class_names)
    ax.set_title(title)
    _legend(figure, handles, class_names)
    return figure


def embedding_sheet(
    points_by_tap: Mapping[str, np.ndarray],
    labels: np.ndarray,
    class_names: Sequence[str],
    method: str,
):
    """The same images embedded from every tap, side by side, with one shared legend."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4.5 * len(points_by_tap) + 1.5, 4.5), layout="constrained")
    axes = figure.subplots(1, len(points_by_tap), squeeze=False)[0]
    for ax, (tap, points) in zip(axes, points_by_tap.items(), strict=True):
        handles = _scatter_classes(ax, points, labels, class_names)
        ax.set_title(f"{method}: {tap}")
    _legend(figure, handles, class_names)
    return figure


def figure_pixels(figure, dpi: int = 120) -> np.ndarray:
    """``figure`` drawn once at ``dpi``, as ``[H, W, 3]`` uint8 RGB pixels."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    figure.set_dpi(dpi)
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return np.array(canvas.buffer_rgba())[..., :3]


def draw(figure, png_path: str | os.PathLike) -> np.ndarray:
    """``figure`` rendered once and saved as PNG; its pixels, e.g. for TensorBoard."""
    pixels = figure_pixels(figure)
    save_png(pixels, png_path)
    return pixels


def confusion_figure(matrix: np.ndarray, class_names: Sequence[str], title: str = ""):
    """A row-normalised confusion matrix: row = true class, column = predicted class."""
    from matplotlib.figure import Figure
    from sklearn.metrics import ConfusionMatrixDisplay

    size = max(5.0, 0.6 * len(class_names) + 2)
    figure = Figure(figsize=(size + 1, size), layout="constrained")
    ax = figure.add_subplot()
    ConfusionMatrixDisplay(np.asarray(matrix), display_labels=list(class_names)).plot(
        ax=ax,
        cmap="Blues",
        values_format=".2f",
        xticks_rotation=45,
        colorbar=True,
        include_values=len(class_names) <= 20,
    )
    ax.set_title(title)
    return figure
