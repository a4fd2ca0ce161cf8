"""Missing, truncated and corrupt dataset files: a clear error naming the file, no partial files."""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import time
from pathlib import Path

import pytest

from lightning_modules.data import files
from lightning_modules.data.datamodule import IDXImageDataModule
from lightning_modules.data.files import DatasetError, ensure_idx_files
from tests.conftest import run_cli, tiny_overrides
from tests.tiny_data import TinyFashionMNIST, write_idx_dataset

TRAIN_IMAGES = "train-images-idx3-ubyte"


def _copy_tiny_data(source: Path, root: Path) -> Path:
    shutil.copytree(source, root)
    return root / TinyFashionMNIST.__name__ / "raw"


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.fixture
def archived_dataset(tmp_path):
    """A dataset class whose published .gz archives (with their MD5s) sit in a system dir."""
    raw = write_idx_dataset(tmp_path / "source") / TinyFashionMNIST.__name__ / "raw"
    system_dir = tmp_path / "system"
    system_dir.mkdir()
    resources = []
    for name in sorted(os.listdir(raw)):
        archive = system_dir / f"{name}.gz"
        archive.write_bytes(gzip.compress((raw / name).read_bytes()))
        resources.append((archive.name, hashlib.md5(archive.read_bytes()).hexdigest()))
    dataset_cls = type("ArchivedTinyMNIST", (TinyFashionMNIST,), {"resources": resources})
    return dataset_cls, system_dir


def test_truncated_idx_file_is_named_with_the_fix(tiny_data_dir, tmp_path):
    raw = _copy_tiny_data(tiny_data_dir, tmp_path / "data")
    _truncate(raw / TRAIN_IMAGES)
    with pytest.raises(DatasetError) as err:
        ensure_idx_files(TinyFashionMNIST, tmp_path / "data", download=False)
    assert str(raw / TRAIN_IMAGES) in str(err.value)
    assert "corrupt or truncated" in str(err.value) and f"rm {raw / TRAIN_IMAGES}" in str(err.value)


def test_cli_stops_on_a_truncated_idx_file(tiny_data_dir, tmp_path):
    raw = _copy_tiny_data(tiny_data_dir, tmp_path / "data")
    _truncate(raw / TRAIN_IMAGES)
    run_dir = tmp_path / "run"
    result = run_cli(*tiny_overrides(tmp_path / "data", run_dir), f"hydra.run.dir={run_dir}")
    assert result.returncode != 0
    assert f"DatasetError: {raw / TRAIN_IMAGES} is corrupt or truncated" in result.stderr
    assert '"status": "failed"' in (run_dir / "metrics.json").read_text()
    assert not (run_dir / "checkpoints").exists()


def test_missing_files_list_what_was_tried_and_how_to_fix(tmp_path):
    with pytest.raises(DatasetError) as err:
        ensure_idx_files(
            TinyFashionMNIST, tmp_path / "data", [str(tmp_path / "nowhere")], download=False
        )
    message = str(err.value)
    assert f"Cannot find {TRAIN_IMAGES} of TinyFashionMNIST" in message
    assert f"{tmp_path / 'nowhere' / TRAIN_IMAGES}.gz: not found" in message
    assert "data.download=false" in message and "data.system_dirs=[<that dir>]" in message


def test_corrupt_archive_is_skipped_and_leaves_nothing(archived_dataset, tmp_path):
    dataset_cls, system_dir = archived_dataset
    _truncate(system_dir / f"{TRAIN_IMAGES}.gz")
    with pytest.raises(DatasetError, match="checksum mismatch \\(corrupt or truncated\\), skipped"):
        ensure_idx_files(dataset_cls, tmp_path / "data", [str(system_dir)], download=False)
    raw = tmp_path / "data" / dataset_cls.__name__ / "raw"
    assert not (raw / TRAIN_IMAGES).exists() and list(raw.glob(".*")) == []  # intact files only


def test_interrupted_extraction_leaves_no_partial_file(archived_dataset, tmp_path, monkeypatch):
    dataset_cls, system_dir = archived_dataset
    raw = tmp_path / "data" / dataset_cls.__name__ / "raw"

    def copy_then_interrupt(src, dst, length=0):
        dst.write(src.read(100))
        raise KeyboardInterrupt  # Ctrl-C half-way through writing the file

    monkeypatch.setattr(files.shutil, "copyfileobj", copy_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        ensure_idx_files(dataset_cls, tmp_path / "data", [str(system_dir)], download=False)
    assert list(raw.iterdir()) == []

    monkeypatch.undo()
    ensure_idx_files(dataset_cls, tmp_path / "data", [str(system_dir)], download=False)
    assert sorted(p.name for p in raw.iterdir()) == sorted(
        n.removesuffix(".gz") for n, _ in dataset_cls.resources
    )


def test_extraction_removes_what_a_killed_extraction_left(archived_dataset, tmp_path):
    dataset_cls, system_dir = archived_dataset
    raw = tmp_path / "data" / dataset_cls.__name__ / "raw"
    raw.mkdir(parents=True)
    stale, in_progress = raw / f".{TRAIN_IMAGES}.dead.part", raw / f".{TRAIN_IMAGES}.live.part"
    for partial in (stale, in_progress):
        partial.write_bytes(b"half a file")
    hour_ago = time.time() - 3600
    os.utime(stale, (hour_ago, hour_ago))
    ensure_idx_files(dataset_cls, tmp_path / "data", [str(system_dir)], download=False)
    assert not stale.exists()
    assert in_progress.exists()  # may belong to a parallel job extracting the same file


def test_data_module_checks_the_validation_split_against_the_real_training_set(tiny_data_dir):
    datamodule = IDXImageDataModule(
        TinyFashionMNIST, str(tiny_data_dir), download=False, val_size=600
    )
    with pytest.raises(ValueError, match=r"data.val_size=600 must be in \[1, 600\)"):
        datamodule.setup("fit")
