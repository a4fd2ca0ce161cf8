"""torchvision's ``ImageFolder`` layout: ``<root>/train/<class>/*``, optionally ``<root>/test/``.

Light on imports: the configs read the class count from here while they are composed.
"""

from __future__ import annotations

import os
from pathlib import Path

from lightning_modules.data.files import DatasetError

TRAIN_DIR = "train"
TEST_DIR = "test"


def class_folders(root: str | Path) -> list[str]:
    """The class names: the folder names under ``<root>/train``, sorted; at least two."""
    train = Path(root) / TRAIN_DIR
    layout = (
        f"lay the images out as {root}/{TRAIN_DIR}/<class>/<image> (optionally {TEST_DIR}/ too)"
    )
    if not train.is_dir():
        raise DatasetError(f"data.root={root} has no {TRAIN_DIR}/ folder; {layout}")
    names = class_folders_of(train)
    if len(names) < 2:
        raise DatasetError(
            f"data.root={root}: {TRAIN_DIR}/ has {len(names)} class folder(s) {names}, a "
            f"classifier needs at least two; {layout}"
        )
    return names


def class_folders_of(folder: Path) -> list[str]:
    return sorted(entry.name for entry in os.scandir(folder) if entry.is_dir())
