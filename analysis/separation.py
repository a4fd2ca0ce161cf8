"""Numbers that say how well classes separate in a space of feature vectors or 2-D points."""

from __future__ import annotations

import numpy as np

FEATURE_SPACE = "features"  # the tap's own space, next to the names of the 2-D projections
SEPARATION_KEY = "separation/{space}/{tap}/{score}"


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
