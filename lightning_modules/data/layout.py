"""torchvision's ``ImageFolder`` layout: ``<root>/train/<class>/*``, optionally ``<root>/test/``."""

from __future__ import annotations

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
    """torchvision's ``find_classes``: the sorted folder names under ``folder``; [] for none."""
    from torchvision.datasets.folder import find_classes

    try:
        return find_classes(str(folder))[0]
    except FileNotFoundError:  # no class folder in it
        return []
