"""The feature-embeddings callback on a tiny run: PNGs, TensorBoard figures, projector, numbers."""

from __future__ import annotations

import math
import multiprocessing
import os
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from torchvision.datasets import FashionMNIST

from analysis.projections import stratified_subset
from analysis.projector import sprite_thumbnails
from analysis.separation import FEATURE_SPACE, SEPARATION_KEY
from callbacks.feature_embeddings import FeatureEmbeddings
from lightning_modules.protocols import Classifier, FeatureTaps
from storage.run_files import read_metrics
from tests.conftest import ROOT, compose_tiny
from tests.tensorboard_reading import event_tags, projector_embeddings, scalar_steps
from train import train
from training import components

NUM_IMAGES = 100
GRAD_EVERY = 5
# A small subset and a short t-SNE keep the run at a few seconds.
FAST_EMBEDDINGS = (
    f"callbacks.feature_embeddings.num_images={NUM_IMAGES}",
    "callbacks.feature_embeddings.projections.tsne.perplexity=10",
    "callbacks.feature_embeddings.projections.tsne.max_iter=250",
)
METHODS = ("pca", "tsne")
TAPS = ("conv", "fc", "logits")
LENET_TAP_DIMS = {"conv": 400, "fc": 84, "logits": 10}


@pytest.fixture(scope="module")
def run_dir(tiny_data_dir, tmp_path_factory):
    """One LeNet run on tiny data with the default callbacks, the taps projected in 2 workers."""
    out = tmp_path_factory.mktemp("embeddings") / "run"
    cfg = compose_tiny(
        out,
        tiny_data_dir,
        *FAST_EMBEDDINGS,
        f"callbacks.gradient_norms.every_n_steps={GRAD_EVERY}",
        "callbacks.feature_embeddings.num_workers=2",
    )
    assert train(cfg)["status"] == "completed"
    return out


def test_embedding_pngs_for_every_method_and_tap(run_dir):
    for method in METHODS:
        for name in (*TAPS, "all_taps"):
            with Image.open(run_dir / "embeddings" / f"{method}_{name}.png") as png:
                assert png.format == "PNG" and min(png.size) > 200


def test_figures_are_in_tensorboard(run_dir):
    images = set(event_tags(run_dir / "tensorboard")["images"])
    expected = {f"embeddings/{m}/{t}" for m in METHODS for t in (*TAPS, "all_taps")}
    assert expected <= images
    assert "test/confusion_matrix" in images
    assert (run_dir / "confusion_matrix.png").is_file()


def test_projector_holds_features_metadata_and_sprite_per_tap(run_dir):
    embeddings = projector_embeddings(run_dir / "tensorboard")
    by_tap = {entry["name"].split(":")[0]: entry for entry in embeddings}
    assert sorted(by_tap) == sorted(TAPS) and len(embeddings) == len(TAPS)
    side = math.ceil(math.sqrt(NUM_IMAGES)) * 28
    for tap, entry in by_tap.items():
        rows = entry["tensors"].read_text().splitlines()
        assert len(rows) == NUM_IMAGES
        assert {len(row.split("\t")) for row in rows} == {LENET_TAP_DIMS[tap]}

        header, *meta = [line.split("\t") for line in entry["metadata"].read_text().splitlines()]
        assert header == ["label", "class", "predicted"]
        assert len(meta) == NUM_IMAGES
        assert all(FashionMNIST.classes[int(label)] == name for label, name, _ in meta)
        assert {predicted for *_, predicted in meta} <= set(FashionMNIST.classes)

        assert entry["thumbnail"] == (28, 28)
        with Image.open(entry["sprite"]) as sprite:
            assert sprite.size == (side, side)


def test_separation_numbers_in_metrics_and_tensorboard(run_dir):
    metrics = read_metrics(run_dir)
    scalars = set(event_tags(run_dir / "tensorboard")["scalars"])
    for space in (FEATURE_SPACE, *METHODS):
        for tap in TAPS:
            knn = SEPARATION_KEY.format(space=space, tap=tap, score="knn_acc")
            silhouette = SEPARATION_KEY.format(space=space, tap=tap, score="silhouette")
            assert 0.0 <= metrics[knn] <= 1.0 and -1.0 <= metrics[silhouette] <= 1.0
            assert {knn, silhouette} <= scalars
    # The tiny classes are trivially learnable: a trained net's logits separate them.
    assert metrics[SEPARATION_KEY.format(space=FEATURE_SPACE, tap="logits", score="knn_acc")] > 0.9
    assert metrics["embeddings/wall_time_s"] > 0


def test_gradient_norms_every_n_steps(run_dir):
    log_dir = run_dir / "tensorboard"
    scalars = set(event_tags(log_dir)["scalars"])
    expected = {"grad_norm/net.conv.0.weight", "grad_norm/net.head.weight", "grad_norm/total"}
    assert expected <= scalars
    steps = scalar_steps(log_dir, "grad_norm/net.conv.0.weight")
    assert steps[:3] == [0, GRAD_EVERY, 2 * GRAD_EVERY]
    assert all(step % GRAD_EVERY == 0 for step in steps)


def test_every_n_epochs_adds_snapshots_once_per_step(compose_cfg, tmp_path):
    cfg = compose_cfg("callbacks.feature_embeddings.every_n_epochs=1", *FAST_EMBEDDINGS)
    assert train(cfg)["status"] == "completed"
    names = [entry["name"] for entry in projector_embeddings(tmp_path / "run" / "tensorboard")]
    steps_per_epoch = math.ceil((600 - 100) / 32)  # tiny train split / batch size
    # After epoch 1, and at the end of fit (epoch 2's step), with the best checkpoint's weights.
    assert sorted(names) == sorted(
        f"{tap}:{step:05d}" for tap in TAPS for step in (steps_per_epoch, 2 * steps_per_epoch)
    )


@pytest.mark.parametrize("model", ["lenet", "small"])
def test_taps_have_the_declared_dims(compose_cfg, model):
    module = components.model(compose_cfg(f"model={model}"))
    assert isinstance(module, FeatureTaps) and isinstance(module, Classifier)
    features = module.features(torch.zeros(3, 1, 28, 28))
    assert tuple(features) == module.tap_names == TAPS
    assert {k: tuple(v.shape) for k, v in features.items()} == {
        k: (3, d) for k, d in module.net.tap_dims.items()
    }


def test_without_tensorboard_logger_pngs_and_numbers_still_written(compose_cfg, tmp_path):
    # logger=none alone: it also drops Lightning's LearningRateMonitor, which needs a logger.
    cfg = compose_cfg("logger=none", "trainer.max_epochs=1", *FAST_EMBEDDINGS)
    assert train(cfg)["status"] == "completed"
    run = tmp_path / "run"
    assert not (run / "tensorboard").exists()
    assert (run / "embeddings" / "tsne_fc.png").is_file()
    assert (run / "confusion_matrix.png").is_file()
    assert SEPARATION_KEY.format(space="tsne", tap="fc", score="knn_acc") in read_metrics(run)


def test_fast_dev_run_writes_nothing(compose_cfg, tmp_path):
    cfg = compose_cfg("trainer.fast_dev_run=true", *FAST_EMBEDDINGS)
    assert train(cfg)["status"] == "completed"
    run = tmp_path / "run"
    assert not (run / "embeddings").exists()
    assert not (run / "confusion_matrix.png").exists()
    metrics = read_metrics(run)
    assert not any(k.startswith(("separation/", "embeddings/")) for k in metrics)
    assert "test/top_confused" not in metrics


def bare_trainer(datamodule, run_dir) -> SimpleNamespace:
    """What ``FeatureEmbeddings.embed`` reads of a trainer, at step 0 with no logger."""
    return SimpleNamespace(
        is_global_zero=True,
        global_step=0,
        fast_dev_run=False,
        datamodule=datamodule,
        default_root_dir=str(run_dir),
        loggers=[],
    )


def test_model_without_taps_is_skipped(tmp_path, caplog):
    trainer = bare_trainer(None, tmp_path)
    with caplog.at_level("INFO"):
        FeatureEmbeddings(num_images=100).embed(trainer, torch.nn.Linear(2, 2))
    assert "no feature taps" in caplog.text
    assert list(tmp_path.iterdir()) == []


def test_subset_is_stratified_and_fixed():
    labels = np.arange(1000) % 10
    chosen = stratified_subset(labels, 200, seed=3)
    np.testing.assert_array_equal(chosen, stratified_subset(labels, 200, seed=3))
    assert np.bincount(labels[chosen]).tolist() == [20] * 10
    assert (np.diff(chosen) > 0).all()


COLLAPSED_TAP = """
import numpy as np
from analysis.projections import default_projections
from analysis.tap_projection import project_tap
labels = np.arange(100) % 10
for method, estimator in default_projections(seed=0).items():
    done = project_tap(estimator, method, "fc", np.zeros((100, 16), np.float32), labels,
                       [str(i) for i in range(10)], "{out}/" + method + ".png")
    assert (done.points == 0).all(), done.points
    print(method, "ok")
"""


def test_a_collapsed_tap_maps_to_one_point_without_crashing(tmp_path):
    # Before the guard, scikit-learn's t-SNE crashed the process (SIGSEGV) on such features,
    # so it runs in a process of its own.
    result = subprocess.run(
        [sys.executable, "-c", COLLAPSED_TAP.format(out=tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["tsne", "ok", "pca", "ok"]
    assert (tmp_path / "tsne.png").is_file()


def test_thumbnails_shrink_to_keep_the_sprite_within_limits():
    few = torch.zeros(100, 1, 28, 28, dtype=torch.uint8)
    many = torch.zeros(400, 1, 28, 28, dtype=torch.uint8)
    assert sprite_thumbnails(few, max_sprite_pixels=400).shape[-1] == 28  # 10 x 28 <= 400
    shrunk = sprite_thumbnails(many, max_sprite_pixels=400)  # 20 per row: 20 px each
    assert shrunk.shape == (400, 1, 20, 20) and 20 * shrunk.shape[-1] <= 400
    assert shrunk.min() >= 0.0 and shrunk.max() <= 1.0


def test_worker_processes_give_the_numbers_and_figures_of_one_process(compose_cfg, tmp_path):
    cfg = compose_cfg()
    data = components.datamodule(cfg)
    data.setup("test")
    torch.manual_seed(0)
    module = components.model(cfg)
    projections = {
        "pca": PCA(n_components=2, random_state=0),
        "tsne": TSNE(perplexity=10, max_iter=250, init="pca", random_state=0),
    }
    results = {}
    for workers in (0, 2):
        run = tmp_path / f"workers_{workers}"
        trainer = bare_trainer(data, run)
        callback = FeatureEmbeddings(
            num_images=NUM_IMAGES, projections=projections, num_workers=workers
        )
        callback.embed(trainer, module)
        metrics = read_metrics(run)
        pngs = {p.name: p.read_bytes() for p in (run / "embeddings").iterdir()}
        results[workers] = ({k: v for k, v in metrics.items() if k.startswith("separation/")}, pngs)
    # The same library code on the same inputs with one OpenMP thread in either process: the
    # maps, and so every score and every figure, are bit for bit the same.
    assert len(results[0][0]) == 2 * len(TAPS) * (len(METHODS) + 1)
    assert results[2] == results[0]


def test_workers_import_the_analysis_libraries_but_not_torch():
    pool = FeatureEmbeddings(num_workers=2)._start_pool(num_taps=3)
    try:
        # Evaluated in a worker: what its interpreter imported to start and run a job.
        loaded = pool.submit(eval, "sorted(__import__('sys').modules)").result()
    finally:
        pool.shutdown(kill_workers=True)
    assert {"sklearn.manifold", "matplotlib.backends.backend_agg"} <= set(loaded)
    assert not {"torch", "lightning", "hydra"} & {name.split(".")[0] for name in loaded}


@pytest.mark.skipif(
    "forkserver" not in multiprocessing.get_all_start_methods(), reason="no fork server here"
)
def test_workers_are_forked_from_one_process_that_imported_their_libraries():
    pool = FeatureEmbeddings(num_workers=2)._start_pool(num_taps=3)
    try:
        parents = {pool.submit(os.getppid).result() for _ in range(8)}
    finally:
        pool.shutdown(kill_workers=True)
    # Not this process's children: forks of the fork server, which did the imports once.
    assert len(parents) == 1
    assert os.getpid() not in parents


@pytest.mark.parametrize(
    ("threads", "expected"),
    [(1, None), (2, 3), (4, 4), (16, 6)],  # 3 taps x 2 projections = 6 jobs
)
def test_default_workers_one_per_thread_at_least_one_per_tap(monkeypatch, threads, expected):
    started = []
    monkeypatch.setattr(torch, "get_num_threads", lambda: threads)
    monkeypatch.setattr(
        "callbacks.feature_embeddings.ProcessPoolExecutor",
        lambda workers, **_: started.append(workers) or SimpleNamespace(submit=lambda job: None),
    )
    pool = FeatureEmbeddings()._start_pool(num_taps=3)
    assert (pool is None) == (expected is None)
    assert started == ([] if expected is None else [expected])
