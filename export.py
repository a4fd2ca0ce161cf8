"""Export a checkpoint's model; ``python export.py --help`` lists the options.

python export.py ckpt_path=<run>/checkpoints/epoch_004.ckpt format=onnx
python export.py ckpt_path=<file> format=torchscript output=model.pt
"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

from hydra_app import config_env, user_errors

config_env.setup()


@hydra.main(version_base="1.3", config_path="conf", config_name="export")
@user_errors.reported
def main(cfg: DictConfig) -> None:
    from inference.export_formats import export

    path = export(cfg)
    if not path.is_file():  # exit 0 means the file is there
        sys.exit(f"Error: the export reported {path}, but no file is there; nothing was written.")
    print(path)


if __name__ == "__main__":
    main()
