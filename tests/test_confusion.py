"""Test-time confusion: the matrix figure and the most confused class pairs."""

from __future__ import annotations

from types import SimpleNamespace

import torch
from PIL import Image

from analysis.confusion import TOP_CONFUSED_KEY, format_pair, top_confused_pairs
from callbacks.confusion_matrix import ConfusionMatrix
from storage.run_files import read_metrics
from tests.tiny_data import write_idx_dataset
from train import train


def test_indistinguishable_classes_are_the_top_confused_pair(compose_cfg, tmp_path, caplog):
    # Shirt (6) images are drawn exactly like Pullover (2) images: no net can tell them apart.
    data_dir = write_idx_dataset(tmp_path / "merged", merge=(2, 6))
    cfg = compose_cfg("callbacks.feature_embeddings=null", data_dir=data_dir)
    with caplog.at_level("INFO", logger="callbacks.confusion_matrix"):
        assert train(cfg)["status"] == "completed"

    top = read_metrics(tmp_path / "run")[TOP_CONFUSED_KEY]
    assert {top[0]["true"], top[0]["predicted"]} == {"Pullover", "Shirt"}
    assert top[0]["rate"] >= 0.3
    assert format_pair(top[0]) in caplog.text
    with Image.open(tmp_path / "run" / "confusion_matrix.png") as png:
        assert png.format == "PNG"


def test_top_pairs_are_off_diagonal_largest_first():
    matrix = torch.tensor([[0.9, 0.1, 0.0], [0.3, 0.7, 0.0], [0.0, 0.05, 0.95]])
    pairs = top_confused_pairs(matrix, ["a", "b", "c"], k=5)
    assert [(p["true"], p["predicted"], p["rate"]) for p in pairs] == [
        ("b", "a", 0.3),
        ("a", "b", 0.1),
        ("c", "b", 0.05),
    ]
    assert format_pair(pairs[0]) == "b -> a 0.30"


def test_models_that_are_not_classifiers_are_skipped(tmp_path):
    trainer = SimpleNamespace(
        fast_dev_run=False, is_global_zero=True, default_root_dir=str(tmp_path)
    )
    callback = ConfusionMatrix()
    callback.on_test_start(trainer, torch.nn.Linear(2, 2))
    callback.on_test_batch_end(trainer, torch.nn.Linear(2, 2), None, (torch.zeros(1, 2), None), 0)
    callback.on_test_end(trainer, torch.nn.Linear(2, 2))
    assert list(tmp_path.iterdir()) == []
