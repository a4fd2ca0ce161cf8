"""Evaluate a trained model's checkpoint; ``python eval.py --help`` lists the options.

python eval.py ckpt_path=logs/train/runs/<run>/checkpoints/epoch_004.ckpt
python eval.py ckpt_path=<file> split=val
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from hydra_app import config_env, user_errors

config_env.setup()


@hydra.main(version_base="1.3", config_path="conf", config_name="eval")
@user_errors.reported
def main(cfg: DictConfig) -> None:
    from hydra_app.config_tree import print_tree
    from inference.evaluation import evaluate

    print_tree(cfg)
    metrics = evaluate(cfg)
    shown = {k: v for k, v in metrics.items() if k.startswith(f"{cfg.split}/")}
    print("\n".join(f"{key}: {value}" for key, value in shown.items()))


if __name__ == "__main__":
    main()
