"""What the configs under ``conf/`` read besides themselves, set up in one place.

``PROJECT_ROOT`` (``paths.root_dir``), the ``coalesce`` and ``pid`` resolvers; :func:`compose`
gives the configs to code that runs outside ``@hydra.main`` (data preparation, benchmarks, tests).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CONF_DIR = PROJECT_ROOT / "conf"


def _coalesce(*values):
    """``${coalesce:a,b}``: the first value that is not null (``resume`` before the new run dir)."""
    return next((value for value in values if value is not None), None)


def _image_folder_classes(root: str) -> int:
    """``${image_folder_classes:<root>}``: how many class folders ``<root>/train`` holds."""
    from lightning_modules.data.layout import class_folders

    return len(class_folders(root))


# The loggers Lightning's rank_zero_info writes through (lightning_utilities takes the last
# one imported), and words of the advertisement it prints at every Trainer start.
_RANK_ZERO_LOGGERS = (
    "lightning.pytorch.utilities.rank_zero",
    "lightning.fabric.utilities.rank_zero",
)
_LITLOGGER_TIP = ("Tip:", "litlogger")


def _not_litlogger_tip(record: logging.LogRecord) -> bool:
    """False for Lightning's "Tip: ... try installing litlogger" line, which no setting turns
    off; every other line passes.

    Args:
        record: a line logged through Lightning's ``rank_zero_info``.
    """
    return not all(word in str(record.msg) for word in _LITLOGGER_TIP)


def setup() -> None:
    """Set ``PROJECT_ROOT`` (unless the user did), register the resolvers and silence
    Lightning's litlogger tip; idempotent."""
    os.environ.setdefault("PROJECT_ROOT", str(PROJECT_ROOT))
    for name in _RANK_ZERO_LOGGERS:
        logging.getLogger(name).addFilter(_not_litlogger_tip)  # the same filter once
    OmegaConf.register_new_resolver("coalesce", _coalesce, replace=True)
    # ``${pid:}``: this process's id, part of the default run dir (cached: one value a run).
    OmegaConf.register_new_resolver("pid", os.getpid, replace=True, use_cache=True)
    OmegaConf.register_new_resolver("image_folder_classes", _image_folder_classes, replace=True)


@contextmanager
def initialized() -> Iterator:
    """Hydra set up on ``conf/`` as ``@hydra.main`` sets it up; yields its config loader."""
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    setup()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            yield GlobalHydra.instance().config_loader()
    finally:
        GlobalHydra.instance().clear()


def compose(
    overrides: list[str] | tuple[str, ...] = (),
    config_name: str = "train",
    return_hydra_config: bool = False,
) -> DictConfig:
    """The config ``python <entry point> <overrides>`` would get, outside of ``@hydra.main``.

    With ``return_hydra_config`` it also holds the ``hydra`` node (sweeper, launcher, run dirs).
    """
    from hydra import compose as hydra_compose

    with initialized():
        return hydra_compose(
            config_name=config_name,
            overrides=list(overrides),
            return_hydra_config=return_hydra_config,
        )
