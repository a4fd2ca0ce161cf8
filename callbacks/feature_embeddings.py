"""PCA and t-SNE of every feature tap on a fixed subset of test images.

For each tap the callback writes a scatter per projection (PNG in ``<run>/embeddings/`` and a
TensorBoard figure ``embeddings/<method>/<tap>``), a sheet per projection with all taps, the
raw features for TensorBoard's projector, and class-separation numbers into ``metrics.json``.
"""

from __future__ import annotations

import logging
import multiprocessing
import time
from concurrent.futures import Executor, Future, as_completed
from contextlib import contextmanager, nullcontext
from functools import partial
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback
from loky import ProcessPoolExecutor
from loky.backend.context import get_context
from typing_extensions import override

from analysis.projections import default_projections, stratified_subset
from analysis.projector import sprite_thumbnails, write_projector
from analysis.separation import FEATURE_SPACE, SEPARATION_KEY, separation_scores
from analysis.tap_projection import (
    JOB_MODULES,
    ProjectedTap,
    draw_sheet,
    project_tap,
    start_worker,
)
from lightning_modules.best_weights import best_weights
from lightning_modules.protocols import Classifier, FeatureTaps, LabelledImageData
from storage.run_files import update_metrics
from storage.run_loggers import log_image, tensorboard_for

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
        num_threads: OpenMP threads of each projection (``None``: all cores). t-SNE's threads
            busy-wait, so on a machine shared with other jobs more threads can be several
            times slower than one.
        num_workers: processes that project the taps side by side (``None``: one per torch
            thread but at least one per tap, at most one per job, and none when torch has one
            thread; 0 or 1: in the training process). They start with the fit and wait idle.
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
        num_workers: int | None = None,
        batch_size: int = 500,
        seed: int = 0,
    ) -> None:
        self.num_images = num_images
        self.every_n_epochs = every_n_epochs
        self.projections = default_projections(seed) if projections is None else dict(projections)
        self.projector = projector
        self.knn_neighbors = knn_neighbors
        self.num_threads = num_threads
        self.num_workers = num_workers
        self.batch_size = batch_size
        self.seed = seed
        self._embedded_at_step: int | None = None
        self._pool: Executor | None = None

    @override
    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        # The workers import their libraries while the net trains, not at the end of fit.
        if stage == "fit" and trainer.is_global_zero and not trainer.fast_dev_run:
            if isinstance(pl_module, FeatureTaps):
                self._pool = self._start_pool(len(pl_module.tap_names))

    @override
    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self._stop_pool()

    @override
    def on_exception(
        self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException
    ) -> None:
        self._stop_pool(kill=True)  # Lightning skips teardown when a fit fails

    def _stop_pool(self, kill: bool = False) -> None:
        if self._pool is not None:
            _shut_down(self._pool, kill)
            self._pool = None

    def _start_pool(self, num_taps: int) -> Executor | None:
        if self.num_workers is not None:
            workers = min(self.num_workers, num_taps * len(self.projections))
        elif torch.get_num_threads() < 2:
            workers = 0  # the run has one core: workers would only queue behind each other
        else:
            # At least one per tap, more than the cores if need be: the slowest projection's
            # jobs then share the cores and finish together, none is left to run alone at the end.
            workers = min(max(torch.get_num_threads(), num_taps), num_taps * len(self.projections))
        if workers < 2:
            return None
        pool = ProcessPoolExecutor(workers, context=_worker_context(), initializer=start_worker)
        for _ in range(workers):
            pool.submit(int)  # starts every worker now
        return pool

    @contextmanager
    def _workers(self, num_taps: int):
        """The pool started with the fit, or one for this call (e.g. from eval.py)."""
        if self._pool is not None:
            yield self._pool
            return
        pool = self._start_pool(num_taps)
        if pool is None:
            yield None
            return
        try:
            yield pool
        except BaseException:
            _shut_down(pool, kill=True)
            raise
        _shut_down(pool, kill=False)

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
        chosen = torch.from_numpy(stratified_subset(targets.numpy(), self.num_images, self.seed))
        with best_weights(trainer, pl_module, "Feature embeddings") if best else nullcontext():
            taps, predictions = read_taps(
                pl_module, data.to_model_input, images[chosen], self.batch_size
            )
        labels = targets[chosen].numpy()
        step = trainer.global_step
        with self._workers(len(taps)) as pool:
            scores = self._embed_taps(
                pool, trainer, taps, labels, predictions, images[chosen], data.class_names
            )

        seconds = round(time.perf_counter() - started, 2)
        for logger in trainer.loggers:
            logger.log_metrics(scores, step=step)
        update_metrics(
            trainer.default_root_dir, {**scores, WALL_TIME_KEY: seconds, TAPS_KEY: list(taps)}
        )
        log.info("Embedded %d test images from taps %s in %.1f s", len(labels), list(taps), seconds)

    def _embed_taps(
        self, pool, trainer, taps, labels, predictions, images, class_names
    ) -> dict[str, float]:
        out_dir = Path(trainer.default_root_dir) / EMBEDDINGS_DIR
        step = trainer.global_step
        taps = {tap: features.numpy() for tap, features in taps.items()}
        jobs = [
            partial(
                project_tap,
                estimator,
                method,
                tap,
                features,
                labels,
                class_names,
                out_dir / f"{method}_{tap}.png",
                self.knn_neighbors,
                self.seed,
                self.num_threads,
            )
            # Listed first, started first (the slow t-SNE before PCA); the widest taps first.
            for method, estimator in self.projections.items()
            for tap, features in sorted(taps.items(), key=lambda item: -item[1].shape[1])
        ]
        started = [_start(pool, job) for job in jobs]

        scores: dict[str, float] = {}
        for tap, features in taps.items():
            separation = separation_scores(features, labels, self.knn_neighbors, seed=self.seed)
            scores.update(_keyed(FEATURE_SPACE, tap, separation))
        writer = tensorboard_for(trainer, "the embedding projector") if self.projector else None
        if writer is not None:
            metadata = {"label": labels.tolist(), "class": [class_names[i] for i in labels]}
            if predictions is not None:
                metadata["predicted"] = [class_names[i] for i in predictions.tolist()]
            write_projector(writer.log_dir, step, taps, metadata, sprite_thumbnails(images))

        points: dict[str, dict] = {method: {} for method in self.projections}
        sheets = []
        for future in as_completed(started):
            done: ProjectedTap = future.result()
            scores.update(_keyed(done.method, done.tap, done.scores))
            tag = FIGURE_TAG.format(method=done.method, tap=done.tap)
            log_image(trainer, tag, done.pixels, step)
            points[done.method][done.tap] = done.points
            if len(points[done.method]) == len(taps):
                in_tap_order = {tap: points[done.method][tap] for tap in taps}
                png = out_dir / f"{done.method}_{SHEET_NAME}.png"
                sheet = partial(draw_sheet, in_tap_order, labels, class_names, done.method, png)
                sheets.append((done.method, _start(pool, sheet)))
        for method, future in sheets:
            log_image(
                trainer, FIGURE_TAG.format(method=method, tap=SHEET_NAME), future.result(), step
            )
        return scores


def _keyed(space: str, tap: str, separation: dict[str, float]) -> dict[str, float]:
    """``separation_scores`` under their ``metrics.json`` keys."""
    return {
        SEPARATION_KEY.format(space=space, tap=tap, score=name): value
        for name, value in separation.items()
    }


def _worker_context():
    """How the workers start: forked from a fork server that has imported the jobs' libraries
    once (and the entry point, whose own imports are light) but never torch, so a worker costs
    a fork instead of importing scikit-learn and matplotlib again; the fork server has run no
    OpenMP threads, which a fork of the training process would inherit in a state that can
    hang. Where there is no fork server, fresh interpreters that import the libraries
    themselves, still without torch (loky's default)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return None
    context = get_context("forkserver")
    # Takes effect when the fork server starts, at the first pool of this process.
    context.set_forkserver_preload(["__main__", *JOB_MODULES])
    return context


def _shut_down(pool: ProcessPoolExecutor, kill: bool) -> None:
    """Waits for the workers to finish, or with ``kill`` (after an error) stops them at once."""
    pool.shutdown(wait=not kill, kill_workers=kill)


def _start(pool: Executor | None, job) -> Future:
    """``job`` submitted to ``pool``, or run here at once without one."""
    if pool is not None:
        return pool.submit(job)
    future: Future = Future()
    future.set_result(job())
    return future


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
