"""The conv VAE (``model=vae``) against the MLP VAE of the PyTorch examples (784-400-20,
Bernoulli, Adam 1e-3): same data, optimizer and loss code; test negative ELBO in nats per image.

    python bench/vae_baseline.py --epochs 5            # equal epochs: -ELBO and fit time
    python bench/vae_baseline.py --budgets 60 180      # equal wall time of fitting

With ``--budgets`` each model trains until its fitting time passes the largest budget; after
every epoch the clock stops while the test -ELBO (one posterior sample per image) is computed,
which gives the curve of test -ELBO against seconds of fitting; a budget's result is the last
epoch that ended within it. ``--parallel`` fits the models at the same time, one process each,
so that a machine shared with other jobs loads them alike. ``--variant "<overrides>"`` adds a
conv VAE with other settings.

Prints Markdown tables and writes bench/results/vae_baseline.json (or vae_equal_time.md/.json).
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
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

    from hydra_app.config_env import compose
    from training import components

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
    datamodule = components.datamodule(cfg)
    model = components.model(cfg)
    trainer = components.trainer(cfg, components.callbacks(cfg), components.loggers(cfg))
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


def equal_time_callback(datamodule, max_budget: float):
    """Times fitting epoch by epoch, and after each epoch, off the clock, the test -ELBO."""
    import torch
    from lightning.pytorch.callbacks import Callback

    from lightning_modules.vae_losses import bernoulli_nll, gaussian_kl

    class EqualTime(Callback):
        def __init__(self):
            self.fit_s, self.curve = 0.0, []

        def on_train_epoch_start(self, trainer, pl_module):
            self._start = time.perf_counter()

        @torch.no_grad()
        def on_train_epoch_end(self, trainer, pl_module):
            self.fit_s += time.perf_counter() - self._start
            images, _ = datamodule.splits["test"]
            was_training = pl_module.training
            pl_module.eval()
            generator = torch.Generator().manual_seed(0)
            total = 0.0
            for chunk in images.split(1000):
                x = datamodule.to_model_input(chunk)
                mean, logvar = pl_module.net.encode(x)
                noise = torch.randn(mean.shape, generator=generator)
                z = mean + (0.5 * logvar).exp() * noise
                nll = bernoulli_nll(pl_module.net.decoder_logits(z), x)
                total += (nll + gaussian_kl(mean, logvar).sum(1)).sum().item()
            pl_module.train(was_training)
            self.curve.append((round(self.fit_s, 2), round(total / len(images), 3)))
            if self.fit_s >= max_budget:
                trainer.should_stop = True

    return EqualTime()


def run_budgets(name: str, overrides: list[str], args) -> dict:
    import lightning as L

    from hydra_app.config_env import compose
    from training import components

    cfg = compose(
        [
            *COMMON,
            "scheduler=none",
            *overrides,
            "trainer.max_epochs=1000",
            "+trainer.limit_val_batches=0",
            "+trainer.num_sanity_val_steps=0",
            f"seed={args.seed}",
            f"paths.output_dir={args.out / 'runs' / name.split()[0]}",
            "callbacks.progress_bar.mode=none",
            "callbacks.model_checkpoint=null",
        ]
    )
    L.seed_everything(cfg.seed, workers=True)
    datamodule = components.datamodule(cfg)
    model = components.model(cfg)
    timer = equal_time_callback(datamodule, max(args.budgets))
    callbacks = [c for c in components.callbacks(cfg) if type(c).__name__ != "FeatureEmbeddings"]
    trainer = components.trainer(cfg, [*callbacks, timer], components.loggers(cfg))
    datamodule.setup()
    trainer.fit(model, datamodule=datamodule)
    at_budget = {}
    for budget in args.budgets:
        within = [nelbo for seconds, nelbo in timer.curve if seconds <= budget]
        at_budget[str(budget)] = within[-1] if within else None
    return {
        "model": name,
        "params": sum(p.numel() for p in model.parameters()),
        "curve": timer.curve,
        "at_budget": at_budget,
    }


def budgets_table(rows: list[dict], budgets: list[float], load: str) -> str:
    lines = [
        f"Equal wall time of fitting; test -ELBO (nats per image) of the last epoch within each "
        f"budget. Load at start: {load}",
        "",
        "| model | params | " + " | ".join(f"-ELBO at {b:g} s" for b in budgets) + " |",
        "| --- | ---: | " + " | ".join("---:" for _ in budgets) + " |",
    ]
    for r in rows:
        cells = [f"{r['at_budget'][str(b)]:.2f}" if r["at_budget"][str(b)] else "" for b in budgets]
        lines.append(f"| {r['model']} | {r['params']:,} | " + " | ".join(cells) + " |")
    lines += ["", "Curves (seconds of fitting: test -ELBO):", ""]
    for r in rows:
        points = ", ".join(f"{s:.0f}: {v:.1f}" for s, v in r["curve"])
        lines.append(f"- {r['model']}: {points}")
    return "\n".join(lines) + "\n"


def main_budgets(args, models: dict) -> None:
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    if args.parallel:
        procs = [
            subprocess.Popen(
                [sys.executable, __file__, "--budgets", *map(str, args.budgets), "--only", name]
                + [f"--variant={v}" for v in args.variant]
                + [f"--seed={args.seed}", f"--out={args.out}"],
                stdout=subprocess.PIPE,
                text=True,
            )
            for name in models
        ]
        rows = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
    else:
        rows = [run_budgets(name, overrides, args) for name, overrides in models.items()]
    if args.only:
        print(json.dumps(rows[0]))
        return
    text = budgets_table(rows, args.budgets, load)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "vae_equal_time.md").write_text(text)
    (args.out / "vae_equal_time.json").write_text(json.dumps(rows, indent=1) + "\n")
    print("\n" + text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--accelerator", default="auto")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--budgets", nargs="+", type=float, help="seconds of fitting")
    parser.add_argument("--parallel", action="store_true", help="fit the models at once")
    parser.add_argument(
        "--variant", action="append", default=[], help="a conv VAE with these overrides"
    )
    parser.add_argument("--only", help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # one line per epoch

    models = dict(MODELS)
    models.update({f"conv VAE, {v}": v.split() for v in args.variant})
    if args.budgets:
        if args.only:
            models = {args.only: models[args.only]}
        main_budgets(args, models)
        return

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
