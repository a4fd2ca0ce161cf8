"""PCA and t-SNE of every feature tap on a fixed subset of test images.

For each tap the callback writes a scatter per projection (PNG in ``<run>/embeddings/`` and a
TensorBoard figure ``embeddings/<method>/<tap>``), a sheet per projection with all taps, the
raw features for TensorBoard's projector, and class-separation numbers into ``metrics.json``.
"""

from __future__ import annotations

import logging
import time
from contextlib import nullcontext
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback
from threadpoolctl import threadpool_limits
from typing_extensions import override

from analysis.figures import embedding_figure, embedding_sheet
from analysis.projections import default_projections, project_2d, stratified_subset
from analysis.projector import add_projector_embedding, sprite_thumbnails
from analysis.separation import FEATURE_SPACE, SEPARATION_KEY, separation_scores
from callbacks.best_weights import best_weights
from lightning_modules.protocols import Classifier, FeatureTaps, LabelledImageData
from storage.run_files import save_figure, update_metrics
from storage.tensorboard import log_figure, tensorboard_writer

log = logging.getLogger(__name__)

EMBEDDINGS_DIR = "embeddings"
FIGURE_TAG = "embeddings/{method}/{tap}"
SHEET_NAME = "all_taps"
WALL_TIME_KEY = "embeddings/wall_time_s"
TAPS_KEY = "embeddings/taps"  # the tap names from the input side to the output
SPLIT = "test"


class FeatureEmbeddings(Callback):
    """Embeds ``num_images`` class-stratified test images from every tap at the end of fit, with
    the best checkpoint's weights.

    Args:
        num_images: size of the subset; the same images are used at every call and in every run
            with the same ``seed``.
        every_n_epochs: also embed after every n-th training epoch but the last, with the weights
            of that epoch (0: only at the end of fit; t-SNE takes seconds per tap, so this is
            off by default).
        projections: name -> sklearn estimator with ``fit_transform`` to 2-D (default PCA, t-SNE).
        projector: write the features, metadata and thumbnails for TensorBoard's projector.
        knn_neighbors: k of the kNN classifier whose cross-validated accuracy measures separation.
        num_threads: OpenMP threads for the projections (``None``: all cores). t-SNE's threads
            busy-wait, so on a machine shared with other jobs more threads can be several
            times slower than one.
        batch_size: images per forward pass when reading the taps.
        seed: chooses the subset.
    """

    def __init__(
        self,
        num_images: int = 2000,
        every_n_epochs: int = 0,
        projections: dict | None = None,
        projector: bool = True,
        knn_neighbors: int = 5,
        num_threads: int | None = 1,
        batch_size: int = 500,
        seed: int = 0,
    ) -> None:
        if num_images < 100:  # fewer leave t-SNE's perplexity and the 5-fold kNN without data
            raise ValueError(
                f"callbacks.feature_embeddings.num_images={num_images}; use 100 or more"
            )
        if every_n_epochs < 0:
            raise ValueError(
                f"callbacks.feature_embeddings.every_n_epochs={every_n_epochs}; use 0 (end of fit "
                "only) or a positive number of epochs"
            )
        self.num_images = num_images
        self.every_n_epochs = every_n_epochs
        self.projections = default_projections(seed) if projections is None else dict(projections)
        self.projector = projector
        self.knn_neighbors = knn_neighbors
        self.num_threads = num_threads
        self.batch_size = batch_size
        self.seed = seed
        self._embedded_at_step: int | None = None

    @override
    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        epoch = trainer.current_epoch + 1
        # The last epoch's step gets the end of fit's embedding, of the best checkpoint.
        if self.every_n_epochs and epoch % self.every_n_epochs == 0 and epoch < trainer.max_epochs:
            self.embed(trainer, pl_module)

    @override
    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.embed(trainer, pl_module, best=True)

    def _skip_reason(self, trainer, pl_module) -> str | None:
        if trainer.fast_dev_run:
            return "fast_dev_run"
        if not isinstance(pl_module, FeatureTaps):
            return f"{type(pl_module).__name__} has no feature taps"
        data = trainer.datamodule
        if not isinstance(data, LabelledImageData) or SPLIT not in data.splits:
            return f"the data module holds no in-memory {SPLIT!r} split with class names"
        return None

    def embed(self, trainer, pl_module, best: bool = False) -> None:
        """Embeds with the current weights, or with ``best`` the best checkpoint's."""
        if not trainer.is_global_zero or self._embedded_at_step == trainer.global_step:
            return
        if reason := self._skip_reason(trainer, pl_module):
            log.info("Feature embeddings skipped: %s", reason)
            return
        self._embedded_at_step = trainer.global_step
        started = time.perf_counter()
        data = trainer.datamodule
        images, targets = data.splits[SPLIT]
        chosen = stratified_subset(targets, self.num_images, self.seed)
        with best_weights(trainer, pl_module, "Feature embeddings") if best else nullcontext():
            taps, predictions = read_taps(
                pl_module, data.to_model_input, images[chosen], self.batch_size
            )
        labels = targets[chosen].numpy()
        step = trainer.global_step
        writer = tensorboard_writer(trainer)
        if writer is None:
            log.info("No TensorBoard logger: embeddings go to PNGs and metrics.json only")

        scores = self._embed_taps(trainer, taps, labels, data.class_names, writer, step)
        if writer is not None and self.projector:
            self._write_projector(
                writer, taps, labels, predictions, images[chosen], data.class_names, step
            )

        seconds = round(time.perf_counter() - started, 2)
        for logger in trainer.loggers:
            logger.log_metrics(scores, step=step)
        update_metrics(
            trainer.default_root_dir, {**scores, WALL_TIME_KEY: seconds, TAPS_KEY: list(taps)}
        )
        log.info("Embedded %d test images from taps %s in %.1f s", len(labels), list(taps), seconds)

    def _embed_taps(self, trainer, taps, labels, class_names, writer, step) -> dict[str, float]:
        out_dir = Path(trainer.default_root_dir) / EMBEDDINGS_DIR
        scores: dict[str, float] = {}

        def score(space: str, tap: str, points: np.ndarray) -> None:
            for name, value in separation_scores(
                points, labels, self.knn_neighbors, seed=self.seed
            ).items():
                scores[SEPARATION_KEY.format(space=space, tap=tap, score=name)] = value

        for tap, features in taps.items():
            score(FEATURE_SPACE, tap, features.numpy())
        for method, estimator in self.projections.items():
            started = time.perf_counter()
            with threadpool_limits(self.num_threads, user_api="openmp"):
                points_by_tap = {tap: project_2d(estimator, f.numpy()) for tap, f in taps.items()}
            log.info("%s of %d taps: %.1f s", method, len(taps), time.perf_counter() - started)
            for tap, points in points_by_tap.items():
                score(method, tap, points)
                self._publish(
                    embedding_figure(points, labels, class_names, f"{method}: {tap}"),
                    out_dir,
                    method,
                    tap,
                    writer,
                    step,
                )
            self._publish(
                embedding_sheet(points_by_tap, labels, class_names, method),
                out_dir,
                method,
                SHEET_NAME,
                writer,
                step,
            )
        return scores

    @staticmethod
    def _publish(figure, out_dir: Path, method: str, tap: str, writer, step: int) -> None:
        save_figure(figure, out_dir / f"{method}_{tap}.png")
        log_figure(writer, FIGURE_TAG.format(method=method, tap=tap), figure, step)

    @staticmethod
    def _write_projector(writer, taps, labels, predictions, images, class_names, step) -> None:
        metadata = {"label": labels.tolist(), "class": [class_names[i] for i in labels]}
        if predictions is not None:
            metadata["predicted"] = [class_names[i] for i in predictions.tolist()]
        thumbnails = sprite_thumbnails(images)
        for tap, features in taps.items():
            add_projector_embedding(writer, tap, features, metadata, thumbnails, step)


@torch.no_grad()
def read_taps(model, to_model_input, images: torch.Tensor, batch_size: int = 500):
    """Every tap of ``model`` on uint8 ``images`` as ``[N, D]`` float32 CPU tensors, and the
    predicted classes where the model is a :class:`Classifier` (else ``None``)."""
    was_training = model.training
    model.eval()
    taps: dict[str, list[torch.Tensor]] = {name: [] for name in model.tap_names}
    predictions = []
    try:
        for chunk in images.split(batch_size):
            x = to_model_input(chunk.to(model.device))
            features = model.features(x)
            if missing := set(taps) - set(features):
                raise ValueError(
                    f"{type(model).__name__}.features() returned no {sorted(missing)}, which its "
                    f"tap_names lists; return every tap or drop it from tap_names"
                )
            for name, chunks in taps.items():
                chunks.append(features[name].flatten(1).float().cpu())
            if isinstance(model, Classifier):
                predictions.append(model(x).argmax(dim=1).cpu())
    finally:
        model.train(was_training)
    return {k: torch.cat(v) for k, v in taps.items()}, (
        torch.cat(predictions) if predictions else None
    )
