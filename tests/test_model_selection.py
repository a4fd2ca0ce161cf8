"""No shipped config chooses a model, a checkpoint or hyperparameters on the test split."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hydra_app.config_env import CONF_DIR, compose

# Keys whose value picks a winner: the sweepers' objective, checkpoint and early-stopping
# monitors, and the model's monitored metric that the others follow.
SELECTING_KEYS = ("optimized_metric", "monitor")
TEST_PREFIX = "test/"


def selections_on_test(node, path: str = "") -> list[str]:
    """``<key path>=<value>`` of each selecting key in ``node`` that names the test split."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            where = f"{path}.{key}" if path else str(key)
            if key in SELECTING_KEYS and isinstance(value, str) and TEST_PREFIX in value:
                found.append(f"{where}={value}")
            found += selections_on_test(value, where)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            found += selections_on_test(item, f"{path}[{i}]")
    return found


def _config_files() -> list[Path]:
    return sorted(CONF_DIR.rglob("*.yaml"))


def test_the_check_finds_a_selection_on_the_test_split():
    config = {"optimized_metric": "test/nelbo", "callbacks": {"ckpt": {"monitor": "test/acc"}}}
    assert selections_on_test(config) == [
        "optimized_metric=test/nelbo",
        "callbacks.ckpt.monitor=test/acc",
    ]
    assert selections_on_test({"metrics": ["test/acc"], "monitor": "val/acc"}) == []


@pytest.mark.parametrize("path", _config_files(), ids=lambda p: str(p.relative_to(CONF_DIR)))
def test_no_config_file_selects_on_the_test_split(path):
    assert selections_on_test(yaml.safe_load(path.read_text())) == []


@pytest.mark.parametrize(
    "overrides",
    [
        [],
        ["model=vae"],
        ["callbacks.early_stopping.patience=3"],
        *[[f"hparams_search={p.stem}"] for p in sorted((CONF_DIR / "hparams_search").glob("*"))],
        *[[f"experiment={p.stem}"] for p in sorted((CONF_DIR / "experiment").glob("*.yaml"))],
    ],
    ids=lambda o: " ".join(o) or "default",
)
def test_composed_configs_select_on_validation(overrides, tmp_path):
    from omegaconf import OmegaConf

    # An output dir of its own: outside a Hydra run, the default one does not resolve.
    cfg = compose([*overrides, f"paths.output_dir={tmp_path}"])
    cfg = OmegaConf.to_container(cfg, resolve=True)
    assert selections_on_test(cfg) == []
    assert cfg["optimized_metric"].startswith("val/")
    assert cfg["callbacks"]["model_checkpoint"]["monitor"].startswith("val/")
