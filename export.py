"""Export a checkpoint's model; ``python export.py --help`` lists the options.

python export.py ckpt_path=<run>/checkpoints/epoch_004.ckpt format=onnx
python export.py ckpt_path=<file> format=torchscript output=model.pt
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from runs import config_env

config_env.setup()


@hydra.main(version_base="1.3", config_path="conf", config_name="export")
def main(cfg: DictConfig) -> None:
    from runs.export import export

    print(export(cfg))


if __name__ == "__main__":
    main()
