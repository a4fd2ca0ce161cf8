"""Training speed: this project against a hand-written loop and the usual torchvision pipeline.

    python bench/train_speed.py                       # all models, batch 128 and 512, CPU
    python bench/train_speed.py --models lenet --batch-sizes 128 --repeats 5
    python bench/train_speed.py --device cuda         # same script on a GPU machine

Each measurement runs in its own process (so peak resident memory is its own), contenders
alternate within every repeat, and the table reports medians over repeats of the median timed
epoch (after a warm-up epoch). Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PROJECT_ROOT", str(ROOT))

CONTENDERS = ("floor", "project", "torchvision")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def compose(model: str, batch_size: int, epochs: int, device: str, run_dir: Path, extra=()):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    overrides = [
        f"model={model}",
        f"data.batch_size={batch_size}",
        f"trainer.max_epochs={epochs}",
        f"trainer.accelerator={'gpu' if device == 'cuda' else 'cpu'}",
        "callbacks.progress_bar.mode=none",
        f"paths.output_dir={run_dir}",
        *extra,
    ]
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return hydra_compose(config_name="train", overrides=overrides)


def training_loss(module, batch):
    """The batch's training loss with no metric or logging work: the floor's own step."""
    import torch
    import torch.nn.functional as F

    from lightning_modules.protocols import Generative
    from lightning_modules.vae_losses import bernoulli_nll, gaussian_kl

    x, y = batch
    if not isinstance(module, Generative):
        return F.cross_entropy(module(x), y)
    mean, logvar = module.net.encode(x)
    z = mean + (0.5 * logvar).exp() * torch.randn_like(mean)
    return (
        bernoulli_nll(module.net.decoder_logits(z), x) + gaussian_kl(mean, logvar).sum(1)
    ).mean()


def hand_written_epochs(module, batches_per_epoch, epochs: int, device: str) -> list[float]:
    """The floor: zero_grad/backward/step over batches that are already tensors."""
    import torch

    optimizer = module.configure_optimizers()
    optimizer = optimizer["optimizer"] if isinstance(optimizer, dict) else optimizer
    times = []
    for epoch in range(epochs):
        start = time.perf_counter()
        for x, y in batches_per_epoch(epoch):
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            loss = training_loss(module, (x, y))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return times


def run_worker(args) -> dict:
    import torch
    from hydra.utils import instantiate

    from lab import build

    torch.manual_seed(0)
    total_epochs = args.warmup + args.epochs
    run_dir = Path(args.run_dir)
    cfg = compose(args.model, args.batch_size, total_epochs, args.device, run_dir)
    datamodule = instantiate(cfg.data, _convert_="partial")
    datamodule.prepare_data()
    module = build.model(cfg).to(args.device)
    result = {"model": args.model, "batch_size": args.batch_size, "contender": args.contender}

    if args.contender == "floor":
        datamodule.setup()
        images, targets = datamodule.splits["train"]
        x_all = datamodule.to_model_input(images).to(args.device)  # converted once, up front
        y_all = targets.to(args.device)

        def batches(epoch):
            order = torch.randperm(len(y_all), generator=torch.Generator().manual_seed(epoch))
            for idx in order.to(args.device).split(args.batch_size):
                yield x_all[idx], y_all[idx]

        epoch_times = hand_written_epochs(module, batches, total_epochs, args.device)
        n = len(y_all)
    elif args.contender == "torchvision":
        from torch.utils.data import DataLoader, random_split
        from torchvision import transforms

        steps = [transforms.ToTensor()]
        if datamodule.normalize:
            steps.append(transforms.Normalize((datamodule.mean,), (datamodule.std,)))
        full = datamodule.dataset_class(
            datamodule.data_dir, train=True, transform=transforms.Compose(steps)
        )
        n = len(full) - datamodule.val_size
        train_set, _ = random_split(full, [n, datamodule.val_size])
        loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True)
        epoch_times = hand_written_epochs(module, lambda _: loader, total_epochs, args.device)
    else:
        from lightning.pytorch.callbacks import Callback

        class EpochTimer(Callback):
            def __init__(self):
                self.train, self.val, self.fit_end = [], [], 0.0

            def on_train_epoch_start(self, trainer, pl_module):
                self._t = time.perf_counter()

            def on_validation_start(self, trainer, pl_module):
                if not trainer.sanity_checking:
                    self.train.append(time.perf_counter() - self._t)
                    self._v = time.perf_counter()

            def on_validation_end(self, trainer, pl_module):
                if not trainer.sanity_checking:
                    self.val.append(time.perf_counter() - self._v)

            def on_train_end(self, trainer, pl_module):
                self._end = time.perf_counter()

        timer = EpochTimer()
        callbacks = [*build.callbacks(cfg), timer]
        trainer = build.trainer(cfg, callbacks, build.loggers(cfg))
        module = build.model(cfg)
        trainer.fit(module, datamodule=datamodule)
        start_fit_end = timer._end
        result["fit_end_callbacks_s"] = round(time.perf_counter() - start_fit_end, 3)
        epoch_times = timer.train
        n = len(datamodule.splits["train"][1])
        val_n = len(datamodule.splits["val"][1])
        timed_val = timer.val[args.warmup :] or timer.val
        result["val_samples_per_s"] = round(val_n / statistics.median(timed_val), 1)

    timed = epoch_times[args.warmup :]
    epoch_s = statistics.median(timed)
    result.update(
        epoch_s=round(epoch_s, 3),
        samples_per_s=round(n / epoch_s, 1),
        peak_rss_mb=round(peak_rss_mb(), 1),
        device=str(torch.device(args.device)),
        torch_threads=torch.get_num_threads(),
    )
    return result


def measure(contender, model, batch_size, args, run_root: Path) -> dict:
    run_dir = run_root / f"{model}-{batch_size}-{contender}-{time.monotonic_ns()}"
    command = [
        sys.executable,
        __file__,
        "--worker",
        contender,
        "--model",
        model,
        "--batch-size",
        str(batch_size),
        "--epochs",
        str(args.epochs),
        "--warmup",
        str(args.warmup),
        "--device",
        args.device,
        "--run-dir",
        str(run_dir),
    ]
    out = subprocess.run(command, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{contender} {model} b{batch_size} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def table(results: list[dict]) -> str:
    rows = [
        "| model | batch | contender | epoch s | samples/s | × floor | × torchvision | "
        "val samples/s | peak RSS MB |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    groups: dict[tuple, dict[str, list[dict]]] = {}
    for r in results:
        groups.setdefault((r["model"], r["batch_size"]), {}).setdefault(r["contender"], []).append(
            r
        )
    for (model, batch), by_contender in groups.items():
        medians = {
            c: {k: statistics.median(r[k] for r in rs) for k in ("epoch_s", "peak_rss_mb")}
            for c, rs in by_contender.items()
        }
        for contender in CONTENDERS:
            if contender not in by_contender:
                continue
            rs, m = by_contender[contender], medians[contender]
            vs_floor = m["epoch_s"] / medians["floor"]["epoch_s"] if "floor" in medians else None
            vs_tv = (
                m["epoch_s"] / medians["torchvision"]["epoch_s"]
                if "torchvision" in medians
                else None
            )
            val = (
                statistics.median(r["val_samples_per_s"] for r in rs)
                if "val_samples_per_s" in rs[0]
                else None
            )
            rows.append(
                f"| {model} | {batch} | {contender} | {m['epoch_s']:.2f} | "
                f"{statistics.median(r['samples_per_s'] for r in rs):,.0f} | "
                f"{vs_floor:.2f} | {vs_tv:.2f} | {'' if val is None else f'{val:,.0f}'} | "
                f"{m['peak_rss_mb']:.0f} |"
            )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["lenet", "small", "vae"])
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[128, 512])
    parser.add_argument("--contenders", nargs="+", default=list(CONTENDERS), choices=CONTENDERS)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs per measurement")
    parser.add_argument("--warmup", type=int, default=1, help="untimed epochs first")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--worker", choices=CONTENDERS, help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--batch-size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--run-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        args.contender = args.worker
        print(json.dumps(run_worker(args)))
        return

    import torch

    args.out.mkdir(parents=True, exist_ok=True)
    device = (
        torch.cuda.get_device_name() if args.device == "cuda" else f"CPU, {os.cpu_count()} cores"
    )
    print(
        f"device: {device}; torch {torch.__version__}; {args.repeats} repeats x "
        f"{args.epochs} timed epochs after {args.warmup} warm-up",
        flush=True,
    )
    results = []
    for repeat in range(args.repeats):
        for model in args.models:
            for batch_size in args.batch_sizes:
                order = (
                    args.contenders[repeat % len(args.contenders) :]
                    + args.contenders[: repeat % len(args.contenders)]
                )
                for contender in order:
                    r = measure(contender, model, batch_size, args, args.out / "runs")
                    results.append(r)
                    print(json.dumps(r), flush=True)
    text = f"device: {device}\n\n{table(results)}\n"
    (args.out / f"train_speed_{args.device}.json").write_text(json.dumps(results, indent=1))
    (args.out / f"train_speed_{args.device}.md").write_text(text)
    print("\n" + text)


if __name__ == "__main__":
    main()
