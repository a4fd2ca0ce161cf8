"""The conv VAE (``model=vae``) against the MLP VAE of the PyTorch examples (784-400-20,
Bernoulli, Adam 1e-3): same data, epochs, optimizer and loss code; test negative ELBO in nats
per image and the wall time of fitting.

    python bench/vae_baseline.py --epochs 5

Prints a Markdown table and writes bench/results/vae_baseline.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Both runs train the same VAE module with Adam(lr=1e-3), no schedule, batches of 128.
COMMON = [
    "model=vae",
    "optimizer=adam",
    "optimizer.lr=1e-3",
    "scheduler=none",
    "data.batch_size=128",
    # Nothing but training: no grids, checkpoints, summaries or loggers.
    "callbacks.image_grids=null",
    "callbacks.model_checkpoint=null",
    "callbacks.architecture_summary=null",
    "callbacks.lr_monitor=null",
    "+trainer.enable_checkpointing=false",
    "~logger",
]
MODELS = {
    "conv VAE (model=vae)": [],
    "MLP VAE 784-400-20 (pytorch/examples)": [
        "model.net._target_=lightning_modules.nets.mlp_vae.MLPVAE",
        "~model.net.channels",
        "~model.net.activation",
        "+model.net.hidden=400",
        "model.latent_dim=20",
    ],
}


def run(name: str, overrides: list[str], args) -> dict:
    import lightning as L

    from runs import build
    from runs.config_env import compose

    run_dir = args.out / "runs" / name.split()[0]
    cfg = compose(
        [
            *COMMON,
            *overrides,
            f"trainer.max_epochs={args.epochs}",
            f"seed={args.seed}",
            f"trainer.accelerator={args.accelerator}",
            f"paths.output_dir={run_dir}",
            "callbacks.progress_bar.mode=none",
        ]
    )
    L.seed_everything(cfg.seed, workers=True)
    datamodule = build.datamodule(cfg)
    model = build.model(cfg)
    trainer = build.trainer(cfg, build.callbacks(cfg), build.loggers(cfg))
    datamodule.setup()  # read the data before the clock starts
    started = time.perf_counter()
    trainer.fit(model, datamodule=datamodule)
    fit_s = time.perf_counter() - started
    (result,) = trainer.test(model, datamodule=datamodule, verbose=False)
    return {
        "model": name,
        "params": sum(p.numel() for p in model.parameters()),
        "test_nelbo": result["test/nelbo"],
        "test_recon": result["test/recon"],
        "test_kl": result["test/kl"],
        "fit_s": round(fit_s, 1),
        "s_per_epoch": round(fit_s / args.epochs, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--accelerator", default="auto")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # one line per epoch

    rows = [run(name, overrides, args) for name, overrides in MODELS.items()]
    print(f"\n{args.epochs} epochs, test set of Fashion-MNIST, negative ELBO in nats per image\n")
    print("| model | params | test -ELBO | recon | KL | fit wall time (s) | s/epoch |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(
            f"| {r['model']} | {r['params']:,} | {r['test_nelbo']:.2f} | {r['test_recon']:.2f} "
            f"| {r['test_kl']:.2f} | {r['fit_s']} | {r['s_per_epoch']} |"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    record = {"epochs": args.epochs, "rows": rows}
    (args.out / "vae_baseline.json").write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
