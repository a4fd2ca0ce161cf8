"""Training speed: this project against a hand-written loop and the usual torchvision pipeline.

    python bench/train_speed.py                       # all models, batch 128 and 512, CPU
    python bench/train_speed.py --models lenet --batch-sizes 128 --repeats 5
    python bench/train_speed.py --device cuda         # same script on a GPU machine
    python bench/train_speed.py --models lenet --batch-sizes 128 --contenders project
                                                      # the project with and without augmentation

Each measurement runs in its own process (so peak resident memory is its own), contenders
alternate within every repeat, and the table reports medians over repeats of the median timed
epoch (after a warm-up epoch). Ratios are taken within each repeat, so a machine whose speed
drifts between repeats moves both sides of a ratio; the table gives their median and range.
Run it on an otherwise idle machine.
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

# The hand-written loop, a bare Lightning Trainer running the floor's step, this project's
# training path, and the usual torchvision pipeline.
CONTENDERS = ("floor", "lightning", "project", "torchvision")
# Off after the first repeat: they run once, at the end of fit, and are timed in that repeat.
FIT_END_CALLBACKS_OFF = ("callbacks.feature_embeddings=null", "callbacks.image_grids=null")
# Project contenders with overrides, measured by default: the training-batch augmentation.
DEFAULT_VARIANTS = ["data/augment=standard"]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def compose(model: str, batch_size: int, epochs: int, device: str, run_dir: Path, extra=()):
    from hydra_app.config_env import compose as compose_config

    return compose_config(
        [
            f"model={model}",
            f"data.batch_size={batch_size}",
            f"trainer.max_epochs={epochs}",
            f"trainer.accelerator={'gpu' if device == 'cuda' else 'cpu'}",
            "callbacks.progress_bar.mode=none",
            f"paths.output_dir={run_dir}",
            *extra,
        ]
    )


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


def lightning_timer():
    """A callback timing each training epoch up to its last batch, and each validation pass."""
    import torch
    from lightning.pytorch.callbacks import Callback

    def now(pl_module) -> float:
        if pl_module.device.type == "cuda":
            torch.cuda.synchronize()  # the queued work belongs to the interval being timed
        return time.perf_counter()

    class EpochTimer(Callback):
        def __init__(self):
            self.train, self.val = [], []

        def on_train_epoch_start(self, trainer, pl_module):
            self._start = now(pl_module)

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            if batch_idx + 1 == trainer.num_training_batches:
                self.train.append(now(pl_module) - self._start)

        def on_validation_start(self, trainer, pl_module):
            self._val_start = now(pl_module)

        def on_validation_end(self, trainer, pl_module):
            if not trainer.sanity_checking:
                self.val.append(now(pl_module) - self._val_start)

        def on_train_end(self, trainer, pl_module):
            self.train_end = time.perf_counter()

    return EpochTimer()


def floor_epochs(args, cfg, datamodule, module) -> tuple[list[float], int]:
    import torch

    datamodule.setup()
    images, targets = datamodule.splits["train"]
    x_all = datamodule.to_model_input(images).to(args.device)  # converted once, up front
    y_all = targets.to(args.device)

    def batches(epoch):
        order = torch.randperm(len(y_all), generator=torch.Generator().manual_seed(epoch))
        for idx in order.to(args.device).split(args.batch_size):
            yield x_all[idx], y_all[idx]

    return hand_written_epochs(module, batches, args.warmup + args.epochs, args.device), len(y_all)


def torchvision_epochs(args, cfg, datamodule, module) -> tuple[list[float], int]:
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
    total = args.warmup + args.epochs
    return hand_written_epochs(module, lambda _: loader, total, args.device), n


def bare_lightning_fit(module, datamodule, max_epochs: int, accelerator: str, callback) -> None:
    """Fits with Lightning's loop alone: the floor's step, no metrics, logging or callbacks."""
    import lightning as L

    class FloorStep(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.module = module

        def training_step(self, batch, batch_idx):
            return training_loss(self.module, batch)

        def configure_optimizers(self):
            return self.module.configure_optimizers()

    trainer = L.Trainer(
        max_epochs=max_epochs,
        accelerator=accelerator,
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        use_distributed_sampler=False,
        callbacks=[callback],
    )
    trainer.fit(FloorStep(), datamodule=datamodule)


def bare_lightning_epochs(args, cfg, datamodule, module) -> tuple[list[float], int]:
    timer = lightning_timer()
    bare_lightning_fit(
        module, datamodule, args.warmup + args.epochs, cfg.trainer.accelerator, timer
    )
    return timer.train, len(datamodule.splits["train"][1])


def project_epochs(args, cfg, datamodule, module, result: dict) -> tuple[list[float], int]:
    from training import components

    timer = lightning_timer()
    trainer = components.trainer(cfg, [*components.callbacks(cfg), timer], components.loggers(cfg))
    if args.profile:
        from lightning.pytorch.profilers import SimpleProfiler

        trainer.profiler = SimpleProfiler(dirpath=args.run_dir, filename="profile")
    trainer.fit(module, datamodule=datamodule)
    if args.fit_end:
        result["fit_end_callbacks_s"] = round(time.perf_counter() - timer.train_end, 3)
    val_n = len(datamodule.splits["val"][1])
    timed_val = timer.val[args.warmup :] or timer.val
    result["val_samples_per_s"] = round(val_n / statistics.median(timed_val), 1)
    return timer.train, len(datamodule.splits["train"][1])


def run_worker(args) -> dict:
    import torch

    from training import components

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    extra = [*([] if args.fit_end else FIT_END_CALLBACKS_OFF), *args.variant.split()]
    cfg = compose(
        args.model,
        args.batch_size,
        args.warmup + args.epochs,
        args.device,
        Path(args.run_dir),
        extra,
    )
    datamodule = components.datamodule(cfg)  # as a run builds it (steps_per_execution)
    datamodule.prepare_data()
    module = components.model(cfg)
    label = f"{args.contender} {args.variant}".strip()
    result = {
        "model": args.model,
        "batch_size": args.batch_size,
        "contender": label,
        "repeat": args.repeat,
    }
    if args.contender == "project":
        epoch_times, n = project_epochs(args, cfg, datamodule, module, result)
    else:
        run = {
            "floor": floor_epochs,
            "lightning": bare_lightning_epochs,
            "torchvision": torchvision_epochs,
        }[args.contender]
        epoch_times, n = run(args, cfg, datamodule, module.to(args.device))

    epoch_s = statistics.median(epoch_times[args.warmup :])
    result.update(
        epoch_s=round(epoch_s, 3),
        samples_per_s=round(n / epoch_s, 1),
        peak_rss_mb=round(peak_rss_mb(), 1),
        device=str(torch.device(args.device)),
        torch_threads=torch.get_num_threads(),
    )
    return result


def measure(contender, model, batch_size, repeat: int, args, run_root: Path, variant="") -> dict:
    run_dir = run_root / f"{model}-{batch_size}-{contender}-{time.monotonic_ns()}"
    command = [
        sys.executable,
        __file__,
        "--worker",
        contender,
        "--variant",
        variant,
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
        "--repeat",
        str(repeat),
        "--threads",
        str(args.threads or 0),
    ]
    if repeat == 0:
        command.append("--fit-end")
    if repeat < 0:  # an extra, profiled run: not part of the timings
        command.append("--profile")
    out = subprocess.run(command, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{contender} {model} b{batch_size} failed:\n{out.stderr[-4000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if "--profile" in command:
        result["profile"] = str(run_dir / "fit-profile.txt")
    return result


def _fmt(value: float | None, spec: str = ".2f") -> str:
    return "" if value is None else format(value, spec)


def _ratios(rows: list[dict], contender: str, reference: str) -> list[float]:
    """``contender`` epoch / ``reference`` epoch, taken within each repeat."""
    by_repeat: dict[int, dict[str, float]] = {}
    for r in rows:
        by_repeat.setdefault(r["repeat"], {})[r["contender"]] = r["epoch_s"]
    return [
        t[contender] / t[reference] for t in by_repeat.values() if contender in t and reference in t
    ]


def _ratio_cell(ratios: list[float]) -> str:
    if not ratios:
        return ""
    if all(r == 1 for r in ratios):  # the reference itself
        return "1"
    if len(ratios) == 1:
        return f"{ratios[0]:.2f}"
    return f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})"


def table(results: list[dict]) -> str:
    rows = [
        "| model | batch | contender | epoch s | samples/s | × floor | × torchvision | "
        "val samples/s | peak RSS MB | end-of-fit s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    groups: dict[tuple, list[dict]] = {}
    for r in results:
        groups.setdefault((r["model"], r["batch_size"]), []).append(r)
    for (model, batch), group in groups.items():
        for contender in dict.fromkeys(r["contender"] for r in group):
            rs = [r for r in group if r["contender"] == contender]

            def median(key: str, rs=rs) -> float | None:
                values = [r[key] for r in rs if key in r]
                return statistics.median(values) if values else None

            rows.append(
                f"| {model} | {batch} | {contender} | {median('epoch_s'):.2f} | "
                f"{median('samples_per_s'):,.0f} | "
                f"{_ratio_cell(_ratios(group, contender, 'floor'))} | "
                f"{_ratio_cell(_ratios(group, contender, 'torchvision'))} | "
                f"{_fmt(median('val_samples_per_s'), ',.0f')} | {median('peak_rss_mb'):.0f} | "
                f"{_fmt(median('fit_end_callbacks_s'), '.1f')} |"
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
    parser.add_argument(
        "--project-variants",
        nargs="*",
        default=DEFAULT_VARIANTS,
        metavar="OVERRIDES",
        help="more project contenders, each with these overrides, e.g. "
        f'"compile=true" "trainer.precision=bf16-mixed" (default: {DEFAULT_VARIANTS}; '
        "none: --project-variants with nothing after it)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="torch intra-op threads in every contender (0: torch's default)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="then one project run per setting under Lightning's SimpleProfiler",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--worker", choices=CONTENDERS, help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--batch-size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--run-dir", help=argparse.SUPPRESS)
    parser.add_argument("--variant", default="", help=argparse.SUPPRESS)
    parser.add_argument("--repeat", type=int, default=0, help=argparse.SUPPRESS)  # -1: profiled
    parser.add_argument("--fit-end", action="store_true", help=argparse.SUPPRESS)
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
    header = (
        f"device: {device}; torch {torch.__version__}; {args.repeats} repeats x "
        f"{args.epochs} timed epochs after {args.warmup} warm-up"
        + (f"; {args.threads} threads" if args.threads else "")
    )
    print(header, flush=True)
    results = []
    raw = args.out / f"train_speed_{args.device}.json"
    entries = [(c, "") for c in args.contenders]
    entries += [("project", variant) for variant in args.project_variants]
    for repeat in range(args.repeats):
        for model in args.models:
            for batch_size in args.batch_sizes:
                shift = repeat % len(entries)
                for contender, variant in entries[shift:] + entries[:shift]:
                    r = measure(
                        contender, model, batch_size, repeat, args, args.out / "runs", variant
                    )
                    results.append(r)
                    print(json.dumps(r), flush=True)
                    raw.write_text(json.dumps(results, indent=1))  # kept if a later one fails
    text = f"{header}\n\n{table(results)}\n"
    (args.out / f"train_speed_{args.device}.md").write_text(text)
    print("\n" + text)
    if args.profile:
        for model in args.models:
            for batch_size in args.batch_sizes:
                r = measure("project", model, batch_size, -1, args, args.out / "runs")
                print(
                    f"Lightning's SimpleProfiler, {model} batch {batch_size} "
                    f"(epoch {r['epoch_s']:.2f} s under the profiler): {r['profile']}"
                )


if __name__ == "__main__":
    main()
