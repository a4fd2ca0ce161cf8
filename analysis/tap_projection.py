"""One feature tap mapped to 2-D, scored and drawn: a job that runs in this or a worker process.

The jobs take and return plain NumPy data, so a process pool can run the taps side by side;
each draws its figure once and keeps the pixels for TensorBoard next to the PNG it writes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from analysis.class_figures import draw, embedding_figure, embedding_sheet
from analysis.projections import project_2d
from analysis.separation import separation_scores


@dataclass(frozen=True)
class ProjectedTap:
    method: str
    tap: str
    points: np.ndarray  # [N, 2]
    scores: dict[str, float]  # separation_scores of the points
    pixels: np.ndarray  # [H, W, 3] uint8, the figure saved as PNG


def project_tap(
    estimator,
    method: str,
    tap: str,
    features: np.ndarray,
    labels: np.ndarray,
    class_names: Sequence[str],
    png_path: str | os.PathLike,
    knn_neighbors: int = 5,
    seed: int = 0,
    num_threads: int | None = 1,
) -> ProjectedTap:
    """``features`` ``[N, D]`` mapped to 2-D by a fresh copy of ``estimator``, scored and drawn.

    Args:
        num_threads: OpenMP threads for the estimator (``None``: the library's default).
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(num_threads, user_api="openmp"):
        points = project_2d(estimator, features)
    scores = separation_scores(points, labels, knn_neighbors, seed=seed)
    figure = embedding_figure(points, labels, class_names, f"{method}: {tap}")
    return ProjectedTap(method, tap, points, scores, draw(figure, png_path))


def draw_sheet(
    points_by_tap: Mapping[str, np.ndarray],
    labels: np.ndarray,
    class_names: Sequence[str],
    method: str,
    png_path: str | os.PathLike,
) -> np.ndarray:
    """:func:`~analysis.class_figures.embedding_sheet` saved as PNG; its pixels."""
    return draw(embedding_sheet(points_by_tap, labels, class_names, method), png_path)


# What the jobs import: a worker, or the process its workers are forked from, imports them
# up front, so that no job pays for them.
JOB_MODULES = (
    "matplotlib.backends.backend_agg",
    "matplotlib.figure",  # builds its artist classes on import: most of a first figure's cost
    "sklearn.decomposition",
    "sklearn.manifold",
    "sklearn.metrics",
    "sklearn.model_selection",
    "sklearn.neighbors",
)


def start_worker() -> None:
    """Initialises a worker process: imports what the jobs need (:data:`JOB_MODULES`), and
    leaves Ctrl-C to the run's own process, which shuts the workers down."""
    import importlib
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for module in JOB_MODULES:
        importlib.import_module(module)
