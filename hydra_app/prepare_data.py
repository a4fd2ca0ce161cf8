"""Make sure the configured dataset is on disk:
``python -m hydra_app.prepare_data [data=mnist ...]``.

Uses the same config as ``train.py``, so the data dir and sources are the ones a run will use.
"""

from __future__ import annotations

import sys

from hydra.utils import instantiate

from hydra_app.config_env import compose


def main(overrides: list[str]) -> None:
    from lightning_modules.data.files import DatasetError

    cfg = compose(overrides)
    datamodule = instantiate(cfg.data, _convert_="partial")
    try:
        datamodule.prepare_data()
    except DatasetError as err:
        sys.exit(f"error: {err}")
    print(f"{datamodule.dataset_class.__name__} is ready in {cfg.data.data_dir}")


if __name__ == "__main__":
    main(sys.argv[1:])
