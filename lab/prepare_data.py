"""Make sure the configured dataset is on disk: ``python -m lab.prepare_data [data=mnist ...]``.

Uses the same config as ``train.py``, so the data dir and sources are the ones a run will use.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

ROOT = Path(__file__).resolve().parents[1]


def main(overrides: list[str]) -> None:
    os.environ.setdefault("PROJECT_ROOT", str(ROOT))
    from lightning_modules.data.files import DatasetError

    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides)
    datamodule = instantiate(cfg.data, _convert_="partial")
    try:
        datamodule.prepare_data()
    except DatasetError as err:
        sys.exit(f"error: {err}")
    print(f"{datamodule.dataset_class.__name__} is ready in {cfg.data.data_dir}")


if __name__ == "__main__":
    main(sys.argv[1:])
