"""2-D projections of feature vectors, and numbers that say how well classes separate in them."""

from __future__ import annotations

import numpy as np
import torch

FEATURE_SPACE = "features"  # the tap's own space, next to the names of the 2-D projections
SEPARATION_KEY = "separation/{space}/{tap}/{score}"


def default_projections(seed: int = 0) -> dict:
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    return {
        "pca": PCA(n_components=2, random_state=seed),
        "tsne": TSNE(n_components=2, init="pca", random_state=seed),
    }


def stratified_subset(targets: torch.Tensor, size: int, seed: int = 0) -> torch.Tensor:
    """Sorted indices of ``size`` items drawn with the class proportions of ``targets``.

    The same ``targets`` and ``seed`` give the same subset, so repeated embeddings of a run
    (and runs of different nets) show the same images.
    """
    if size >= len(targets):
        return torch.arange(len(targets))
    from sklearn.model_selection import train_test_split

    chosen, _ = train_test_split(
        np.arange(len(targets)), train_size=size, stratify=targets.numpy(), random_state=seed
    )
    return torch.from_numpy(np.sort(chosen))


def project_2d(estimator, features: np.ndarray) -> np.ndarray:
    """``features`` ``[N, D]`` mapped to ``[N, 2]`` by a fresh copy of an sklearn estimator."""
    from sklearn.base import clone

    return np.asarray(clone(estimator).fit_transform(features), dtype=np.float32)


def separation_scores(
    points: np.ndarray, labels: np.ndarray, neighbors: int = 5, folds: int = 5, seed: int = 0
) -> dict[str, float]:
    """``knn_acc``: cross-validated kNN accuracy; ``silhouette``: mean silhouette of the classes.

    kNN accuracy says whether a point's neighbours share its class (local separation);
    the silhouette says whether classes form compact, distant clusters (global separation).
    """
    from sklearn.metrics import silhouette_score
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    if len(np.unique(labels)) < 2:
        raise ValueError("class separation needs images of at least two classes")
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    knn = cross_val_score(KNeighborsClassifier(n_neighbors=neighbors), points, labels, cv=cv)
    return {"knn_acc": float(knn.mean()), "silhouette": float(silhouette_score(points, labels))}
