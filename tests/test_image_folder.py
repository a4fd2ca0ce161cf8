"""data=image_folder: your own images in the ImageFolder layout, decoded once and cached."""

from __future__ import annotations

import json
import logging
import os

import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf
from PIL import Image

from hydra_app.config_env import compose
from inference import loading
from lightning_modules.data.files import DatasetError
from lightning_modules.data.image_folder import ImageFolderDataModule
from tests.conftest import run_cli
from tests.tiny_data import write_image_folder

CLASSES = ("boot", "coat", "shirt")


def test_train_on_a_folder_of_pngs_with_its_class_names(tmp_path):
    """Three-channel 32-pixel images: the nets take both from the data config."""
    root = write_image_folder(tmp_path / "photos", CLASSES, per_class=40, test_per_class=10)
    run_dir = tmp_path / "run"
    result = run_cli(
        "data=image_folder",
        f"data.root={root}",
        "data.channels=3",
        "data.image_size=32",
        f"data.cache_dir={tmp_path / 'cache'}",
        "data.batch_size=16",
        "trainer.accelerator=cpu",
        "trainer.max_epochs=2",
        "callbacks.progress_bar.mode=none",
        "callbacks.feature_embeddings=null",  # t-SNE needs more than 30 test images
        f"hydra.run.dir={run_dir}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "completed" and metrics["class_names"] == list(CLASSES)
    spec = loading.load(metrics["best_checkpoint"]).spec
    assert spec.class_names == list(CLASSES) and spec.shape == (3, 32, 32)
    assert (run_dir / "confusion_matrix.png").is_file()


def test_train_with_augmentation_on_a_folder_of_rgb_images(tmp_path):
    root = write_image_folder(tmp_path / "photos", CLASSES, per_class=20, test_per_class=4)
    run_dir = tmp_path / "run"
    result = run_cli(
        "data=image_folder",
        f"data.root={root}",
        "data/augment=standard",
        "data.channels=3",
        "data.image_size=32",
        f"data.cache_dir={tmp_path / 'cache'}",
        "data.batch_size=16",
        "trainer.accelerator=cpu",
        "trainer.max_epochs=1",
        "callbacks.progress_bar.mode=none",
        "callbacks.feature_embeddings=null",  # t-SNE needs more than 30 test images
        f"hydra.run.dir={run_dir}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads((run_dir / "metrics.json").read_text())["status"] == "completed"
    saved = OmegaConf.load(run_dir / ".hydra" / "config.yaml")
    assert saved.data.augment._target_ == "lightning_modules.data.augment.BatchAugment"


def datamodule(root, cache_dir, *overrides):
    cfg = compose(
        [
            "data=image_folder",
            f"data.root={root}",
            f"data.cache_dir={cache_dir}",
            f"paths.output_dir={root}",
            *overrides,
        ]
    )
    return instantiate(cfg.data)


def test_the_cache_is_read_on_the_second_run_and_rebuilt_after_a_change(tmp_path, caplog):
    root = write_image_folder(tmp_path / "photos", CLASSES, per_class=20)
    cache = tmp_path / "cache"
    caplog.set_level(logging.INFO, logger="lightning_modules.data.image_cache")

    first = datamodule(root, cache)
    first.setup()
    assert "Decoded 60 images" in caplog.text and len(list(cache.iterdir())) == 1
    caplog.clear()

    second = datamodule(root, cache)
    second.setup()
    assert "from the cache" in caplog.text and "Decoded" not in caplog.text
    for split in ("train", "val", "test"):
        assert (second.splits[split][0] == first.splits[split][0]).all()
    # No test/ folder: data.test_size=0.2 holds out a fifth of each class.
    assert second.splits["test"][1].bincount().tolist() == [4, 4, 4]
    caplog.clear()

    changed = root / "train" / "coat" / "0003.png"
    Image.new("L", (28, 28), 255).save(changed)
    os.utime(changed, ns=(1, 1))  # another size and time, even on a coarse clock
    third = datamodule(root, cache)
    third.setup()
    assert "Decoded 60 images" in caplog.text and len(list(cache.iterdir())) == 2


@pytest.mark.parametrize(
    "layout, message",
    [
        ("empty", "has no train/ folder"),
        ("one_class", "needs at least two"),
        ("empty_class", "coat"),
        ("corrupt", "0001.png: not a readable image"),
    ],
)
def test_bad_folders_get_a_clear_message(tmp_path, layout, message):
    root = tmp_path / "photos"
    root.mkdir()
    if layout == "one_class":
        write_image_folder(root, ("boot",), per_class=3)
    elif layout in ("empty_class", "corrupt"):
        write_image_folder(root, CLASSES, per_class=10)
        if layout == "empty_class":
            for image in (root / "train" / "coat").iterdir():
                image.unlink()
        else:
            (root / "train" / "shirt" / "0001.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(DatasetError, match=message):
        ImageFolderDataModule(str(root)).setup()
