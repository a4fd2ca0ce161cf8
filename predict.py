"""Predict on image files with a trained checkpoint; ``python predict.py --help`` lists the options.

python predict.py ckpt_path=<run>/checkpoints/epoch_004.ckpt inputs=photos/
python predict.py ckpt_path=<file> inputs='photos/*.jpg' invert=false top_k=5

Exits with status 3 when some files could not be read (they are named in the log).
"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

from hydra_app import config_env, user_errors

config_env.setup()


@hydra.main(version_base="1.3", config_path="conf", config_name="predict")
@user_errors.reported
def main(cfg: DictConfig) -> None:
    from inference.file_predictions import SKIPPED_EXIT_CODE, predict

    summary = predict(cfg)
    if summary["skipped"]:
        print(f"{len(summary['skipped'])} file(s) skipped:", *summary["skipped"], sep="\n  ")
        sys.exit(SKIPPED_EXIT_CODE)


if __name__ == "__main__":
    main()
