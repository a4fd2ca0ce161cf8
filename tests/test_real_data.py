"""Integration tests on the real Fashion-MNIST files (``make test`` installs and extracts them)."""

from __future__ import annotations

import pytest
import torch

from lightning_modules.data.datamodule import IDXImageDataModule
from tests.conftest import REAL_DATA_DIR
from train import train

pytestmark = pytest.mark.real_data


@pytest.fixture(scope="module")
def real_dm() -> IDXImageDataModule:
    from torchvision.datasets import FashionMNIST

    dm = IDXImageDataModule(
        FashionMNIST,
        str(REAL_DATA_DIR),
        system_dirs=["/usr/share/datasets/fashion-mnist"],
        download=True,
        val_size=5000,
        seed=42,
    )
    dm.prepare_data()  # raises with the fix if the data cannot be had: never a silent skip
    dm.setup()
    return dm


def test_real_splits_and_classes(real_dm):
    sizes = {name: len(targets) for name, (_, targets) in real_dm.splits.items()}
    assert sizes == {"train": 55_000, "val": 5_000, "test": 10_000}
    assert real_dm.class_names == [
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ]
    # The official test set is balanced: 1,000 images per class.
    assert torch.bincount(real_dm.splits["test"][1]).tolist() == [1000] * 10


def test_lenet_learns_real_fashion_mnist(compose_cfg):
    cfg = compose_cfg(
        "data.dataset_class.path=torchvision.datasets.FashionMNIST",
        f"data.data_dir={REAL_DATA_DIR}",
        "data.val_size=5000",
        "data.batch_size=128",
        "trainer.max_epochs=1",
        "+trainer.limit_train_batches=150",
    )
    metrics = train(cfg)
    assert metrics["status"] == "completed"
    assert metrics["test/acc"] > 0.75  # 1/7 of an epoch; chance is 0.10
