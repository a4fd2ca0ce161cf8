"""Imports run one way: entry points -> study -> inference, hydra_app -> training -> callbacks
-> analysis, lightning_modules -> storage.

A module may import its own package and any package of a lower layer, never one of its own
layer or above; so a newcomer can tell from the folder which room a change belongs in.
"""

from __future__ import annotations

import ast
from pathlib import Path

from hydra_app.config_env import PROJECT_ROOT

# Package -> layer; higher layers build on lower ones.
LAYERS = {
    "storage": 0,
    "analysis": 1,
    "lightning_modules": 1,
    "callbacks": 2,
    "training": 3,
    "inference": 4,
    "hydra_app": 4,
    "hydra_plugins": 4,  # Hydra's namespace package for plugins (Hydra finds them there)
    "study": 5,
}
# Packages without an __init__.py of their own: Hydra finds plugins in hydra_plugins.
NAMESPACE_PACKAGES = {"hydra_plugins"}
ENTRY_POINT_LAYER = max(LAYERS.values()) + 1  # train.py and the other top-level scripts


def imported_packages(source: str) -> set[str]:
    """Top-level names of every module ``source`` imports, at module level or inside functions."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def layer_violations(root: Path) -> list[str]:
    """``"<file> imports <package>"`` for each import against the layering under ``root``."""
    found = []
    sources = [(path, path.relative_to(root).parts[0]) for path in root.glob("*/**/*.py")]
    sources += [(path, None) for path in root.glob("*.py")]
    for path, package in sources:
        if package is not None and package not in LAYERS:
            continue  # tests/, bench/, conf/: not part of the layering
        layer = ENTRY_POINT_LAYER if package is None else LAYERS[package]
        for imported in imported_packages(path.read_text()) & LAYERS.keys():
            if imported != package and LAYERS[imported] >= layer:
                found.append(f"{path.relative_to(root)} imports {imported}")
    return sorted(found)


def test_imports_follow_the_layers():
    assert layer_violations(PROJECT_ROOT) == []


def test_every_package_has_a_layer():
    packages = {p.parent.name for p in PROJECT_ROOT.glob("*/__init__.py")}
    assert packages - {"tests"} | NAMESPACE_PACKAGES == set(LAYERS)


def test_an_upward_or_sideways_import_is_reported(tmp_path):
    for package in LAYERS:
        (tmp_path / package).mkdir()
    (tmp_path / "storage" / "files.py").write_text("from callbacks.x import y\n")
    (tmp_path / "analysis" / "plots.py").write_text("def f():\n    import lightning_modules.vae\n")
    (tmp_path / "training" / "steps.py").write_text(
        "import storage.files\nfrom training import x\n"
    )
    (tmp_path / "inference" / "loading.py").write_text("from hydra_app import config_env\n")
    (tmp_path / "hydra_app" / "guards.py").write_text("from training import resume\n")
    (tmp_path / "training" / "record.py").write_text("from inference import loading\n")
    (tmp_path / "train.py").write_text("from training import steps\nfrom study import plan\n")
    assert layer_violations(tmp_path) == [
        "analysis/plots.py imports lightning_modules",
        "inference/loading.py imports hydra_app",
        "storage/files.py imports callbacks",
        "training/record.py imports inference",
    ]
