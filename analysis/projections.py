"""2-D projections of feature vectors (PCA, t-SNE) on a fixed, class-stratified subset.

NumPy and scikit-learn only: the analysis workers import this without torch.
"""

from __future__ import annotations

import numpy as np


def default_projections(seed: int = 0) -> dict:
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    return {
        "tsne": TSNE(
            n_components=2,
            max_iter=300,
            learning_rate=200,
            angle=0.8,
            init="pca",
            random_state=seed,
        ),
        "pca": PCA(n_components=2, random_state=seed),
    }


def stratified_subset(labels: np.ndarray, size: int, seed: int = 0) -> np.ndarray:
    """Sorted indices of ``size`` items drawn with the class proportions of ``labels``.

    The same ``labels`` and ``seed`` give the same subset, so repeated embeddings of a run
    (and runs of different nets) show the same images.
    """
    if size >= len(labels):
        return np.arange(len(labels))
    from sklearn.model_selection import train_test_split

    chosen, _ = train_test_split(
        np.arange(len(labels)), train_size=size, stratify=labels, random_state=seed
    )
    return np.sort(chosen)


def project_2d(estimator, features: np.ndarray) -> np.ndarray:
    """``features`` ``[N, D]`` mapped to ``[N, 2]`` by a fresh copy of an sklearn estimator.

    Features that are the same for every image (a collapsed net, e.g. dead ReLUs after too
    large a learning rate) map to one point: t-SNE's PCA initialisation divides by their zero
    spread, and scikit-learn's Barnes-Hut code then crashes the whole process.
    """
    from sklearn.base import clone

    if len(features) == 0 or np.allclose(features, features[0]):
        return np.zeros((len(features), 2), dtype=np.float32)
    return np.asarray(clone(estimator).fit_transform(features), dtype=np.float32)
