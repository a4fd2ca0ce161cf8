"""The data module on small IDX files written by the tests, through torchvision's real reader."""

from __future__ import annotations

import gzip
import hashlib
import shutil

import pytest
import torch
from torchvision.datasets import FashionMNIST

from lightning_modules.data.datamodule import IDXImageDataModule
from lightning_modules.data.files import DatasetError, ensure_idx_files
from tests.tiny_data import TinyFashionMNIST, write_idx_dataset


def make_dm(root, **kwargs) -> IDXImageDataModule:
    defaults = dict(
        dataset_class=TinyFashionMNIST,
        data_dir=str(root),
        download=False,
        batch_size=32,
        val_size=100,
        seed=3,
    )
    dm = IDXImageDataModule(**{**defaults, **kwargs})
    dm.setup()
    return dm


def test_splits_are_in_memory_tensors_with_a_seeded_validation_split(tiny_data_dir):
    dm = make_dm(tiny_data_dir)
    sizes = {name: len(targets) for name, (_, targets) in dm.splits.items()}
    assert sizes == {"train": 500, "val": 100, "test": 200}
    images, _ = dm.splits["train"]
    assert images.dtype == torch.uint8 and images.shape[1:] == (1, 28, 28)
    again = make_dm(tiny_data_dir)
    assert torch.equal(dm.splits["val"][1], again.splits["val"][1])
    other_seed = make_dm(tiny_data_dir, seed=4)
    assert not torch.equal(dm.splits["val"][0], other_seed.splits["val"][0])
    assert dm.class_names[2] == "Pullover" and dm.class_names[6] == "Shirt"


def test_batches_cover_every_sample_once_and_reshuffle_per_epoch(tiny_data_dir):
    dm = make_dm(tiny_data_dir)
    loader = dm.train_dataloader()
    first = torch.cat([y for _, y in loader])
    assert len(first) == 500 and [len(x) for x, _ in loader][:-1] == [32] * 15
    assert torch.equal(first.sort().values, dm.splits["train"][1].sort().values)
    loader.sampler.set_epoch(1)
    second = torch.cat([y for _, y in loader])
    assert not torch.equal(first, second)
    loader.sampler.set_epoch(0)
    assert torch.equal(first, torch.cat([y for _, y in loader]))


@pytest.mark.parametrize("normalize", [True, False])
def test_normalisation_is_configurable(tiny_data_dir, normalize):
    dm = make_dm(tiny_data_dir, normalize=normalize, mean=0.25, std=0.5)
    images, _ = dm.on_after_batch_transfer(next(iter(dm.val_dataloader())), 0)
    raw = dm.splits["val"][0][: len(images)].float() / 255
    expected = (raw - 0.25) / 0.5 if normalize else raw
    assert images.dtype == torch.float32 and torch.allclose(images, expected)


@pytest.mark.parametrize("val_size", [0, 600])
def test_val_size_must_leave_training_and_validation_data(tiny_data_dir, val_size):
    with pytest.raises(ValueError, match=rf"data.val_size={val_size} must be in \[1, 600\)"):
        make_dm(tiny_data_dir, val_size=val_size)


def test_missing_files_name_the_paths_tried_and_the_fixes(tmp_path):
    with pytest.raises(DatasetError) as err:
        ensure_idx_files(FashionMNIST, tmp_path / "data", [str(tmp_path / "x")], download=False)
    message = str(err.value)
    assert "train-images-idx3-ubyte" in message
    assert str(tmp_path / "x" / "train-images-idx3-ubyte.gz") in message
    assert "apt-get install dataset-fashion-mnist" in message and "data.download" in message


def test_truncated_extracted_file_is_reported(tmp_path):
    root = write_idx_dataset(tmp_path)
    path = root / "TinyFashionMNIST" / "raw" / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DatasetError, match=r"t10k-images-idx3-ubyte is corrupt or truncated.*rm "):
        ensure_idx_files(TinyFashionMNIST, root, download=False)


def _system_copy(tmp_path, corrupt: str | None = None):
    """Gzip the tiny dataset into a 'system' dir and declare its archive MD5s as the known ones."""
    source = write_idx_dataset(tmp_path / "source") / "TinyFashionMNIST" / "raw"
    system = tmp_path / "system"
    system.mkdir()
    resources = []
    for path in sorted(source.iterdir()):
        archive = system / (path.name + ".gz")
        with open(path, "rb") as src, gzip.open(archive, "wb") as dst:
            shutil.copyfileobj(src, dst)
        resources.append((archive.name, hashlib.md5(archive.read_bytes()).hexdigest()))
        if path.name == corrupt:
            archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    cls = type("TinyFashionMNIST", (FashionMNIST,), {"resources": resources})
    return cls, system, source


def test_system_copy_is_verified_and_extracted(tmp_path):
    cls, system, source = _system_copy(tmp_path)
    raw = ensure_idx_files(cls, tmp_path / "data", [str(system)], download=False)
    for path in source.iterdir():
        assert (raw / path.name).read_bytes() == path.read_bytes()
    dm = make_dm(tmp_path / "data", dataset_class=cls)
    assert len(dm.splits["test"][1]) == 200


def test_corrupt_system_copy_is_rejected_and_nothing_half_written(tmp_path):
    cls, system, _ = _system_copy(tmp_path, corrupt="train-images-idx3-ubyte")
    with pytest.raises(DatasetError, match="checksum mismatch"):
        ensure_idx_files(cls, tmp_path / "data", [str(system)], download=False)
    raw = tmp_path / "data" / "TinyFashionMNIST" / "raw"
    assert not (raw / "train-images-idx3-ubyte").exists()
    assert not [p for p in raw.iterdir() if p.name.startswith(".")]
