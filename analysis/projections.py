"""2-D projections of feature vectors (PCA, t-SNE) on a fixed, class-stratified subset."""

from __future__ import annotations

import numpy as np
import torch


def default_projections(seed: int = 0) -> dict:
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    return {
        "tsne": TSNE(n_components=2, max_iter=400, angle=0.8, init="pca", random_state=seed),
        "pca": PCA(n_components=2, random_state=seed),
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
