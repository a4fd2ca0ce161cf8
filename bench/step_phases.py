"""Where a training step's time goes: the hand-written loop, bare Lightning, this project.

    python bench/step_phases.py                      # LeNet-5, batch 128, 3 runs of each
    python bench/step_phases.py --model small --batch-size 512 --threads 1

Times every step of the second epoch by phase, with ``perf_counter`` only (no profiler
overhead): forward (from the start of the step to the loss, metric updates included),
backward, optimizer step, and the rest (fetching and converting the next batch, Lightning's
loop and hooks). Each run is its own process; contenders alternate. The per-step medians show
which phase each layer adds to.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

CONTENDERS = ("floor", "lightning", "project")
PHASES = ("forward", "backward", "optimizer", "rest", "step")


def floor_phases(cfg, datamodule, module, batch_size: int) -> dict[str, list[float]]:
    import torch
    import torch.nn.functional as F

    datamodule.setup()
    images, targets = datamodule.splits["train"]
    x_all = datamodule.to_model_input(images)
    optimizer = module.configure_optimizers()["optimizer"]
    phases = {p: [] for p in PHASES}
    for epoch in range(2):
        order = torch.randperm(len(targets), generator=torch.Generator().manual_seed(epoch))
        t_end = time.perf_counter()
        for idx in order.split(batch_size):
            x, y = x_all[idx], targets[idx]
            t0 = time.perf_counter()
            loss = F.cross_entropy(module(x), y)
            optimizer.zero_grad(set_to_none=True)  # Lightning's place: before on_before_backward
            t1 = time.perf_counter()
            loss.backward()
            t2 = time.perf_counter()
            optimizer.step()
            t3 = time.perf_counter()
            if epoch:
                values = (t1 - t0, t2 - t1, t3 - t2, t0 - t_end, t3 - t_end)
                for name, value in zip(PHASES, values, strict=True):
                    phases[name].append(value)
            t_end = t3
    return phases


def phase_timer(phases: dict[str, list[float]]):
    """A callback timing the phases of every step of the second epoch through Lightning's hooks."""
    from lightning.pytorch.callbacks import Callback

    class PhaseTimer(Callback):
        def __init__(self):
            self.t: dict[str, float] = {}
            self.last_end: float | None = None

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            self.t["start"] = time.perf_counter()

        def on_before_backward(self, trainer, pl_module, loss):
            self.t["backward"] = time.perf_counter()

        def on_after_backward(self, trainer, pl_module):
            self.t["optimizer"] = time.perf_counter()

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            end, t = time.perf_counter(), self.t
            if trainer.current_epoch == 1 and self.last_end is not None:
                values = (
                    t["backward"] - t["start"],
                    t["optimizer"] - t["backward"],
                    end - t["optimizer"],
                    t["start"] - self.last_end,
                    end - self.last_end,
                )
                for name, value in zip(PHASES, values, strict=True):
                    phases[name].append(value)
            self.last_end = end

    return PhaseTimer()


def lightning_phases(cfg, datamodule, module, batch_size: int) -> dict[str, list[float]]:
    from train_speed import bare_lightning_fit

    phases = {p: [] for p in PHASES}
    bare_lightning_fit(module, datamodule, 2, "cpu", phase_timer(phases))
    return phases


def project_phases(cfg, datamodule, module, batch_size: int) -> dict[str, list[float]]:
    from training import components

    phases = {p: [] for p in PHASES}
    # First, so its step start comes before the other callbacks' hooks.
    callbacks = [phase_timer(phases), *components.callbacks(cfg)]
    components.trainer(cfg, callbacks, components.loggers(cfg)).fit(module, datamodule=datamodule)
    return phases


def worker(args) -> dict:
    import torch
    from train_speed import compose

    from training import components

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = compose(
        args.model,
        args.batch_size,
        2,
        "cpu",
        Path(args.run_dir),
        ["callbacks.feature_embeddings=null", "callbacks.image_grids=null"],
    )
    datamodule = components.datamodule(cfg)
    datamodule.prepare_data()
    run = {"floor": floor_phases, "lightning": lightning_phases, "project": project_phases}[
        args.worker
    ]
    phases = run(cfg, datamodule, components.model(cfg), args.batch_size)
    ms = {name: round(statistics.median(values) * 1e3, 3) for name, values in phases.items()}
    return {"contender": args.worker, "threads": torch.get_num_threads(), **ms}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="lenet", choices=["lenet", "small"])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--worker", choices=CONTENDERS, help=argparse.SUPPRESS)
    parser.add_argument("--run-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args)))
        return

    results = []
    for repeat in range(args.repeats):
        for contender in CONTENDERS[repeat % 3 :] + CONTENDERS[: repeat % 3]:
            run_dir = args.out / "runs" / f"phases-{contender}-{time.monotonic_ns()}"
            command = [
                sys.executable,
                __file__,
                "--worker",
                contender,
                "--model",
                args.model,
                "--batch-size",
                str(args.batch_size),
                "--threads",
                str(args.threads),
                "--run-dir",
                str(run_dir),
            ]
            out = subprocess.run(command, capture_output=True, text=True, check=False)
            if out.returncode != 0:
                raise SystemExit(f"{contender} failed:\n{out.stderr[-4000:]}")
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(json.dumps(results[-1]), flush=True)

    rows = [
        f"{args.model}, batch {args.batch_size}, {results[0]['threads']} threads: "
        "median ms per step (median over runs)",
        "",
        "| contender | " + " | ".join(PHASES) + " |",
        "| --- |" + " --- |" * len(PHASES),
    ]
    for contender in CONTENDERS:
        rs = [r for r in results if r["contender"] == contender]
        cells = [f"{statistics.median(r[p] for r in rs):.2f}" for p in PHASES]
        rows.append(f"| {contender} | " + " | ".join(cells) + " |")
    text = "\n".join(rows) + "\n"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"step_phases_{args.model}_{args.batch_size}.md").write_text(text)
    print("\n" + text)


if __name__ == "__main__":
    main()
