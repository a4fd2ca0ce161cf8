"""A training step's time with the nets' weights in NCHW against channels-last (NHWC) memory.

    python bench/memory_format.py                       # lenet, small, conv_bn, vae; batch 128
    python bench/memory_format.py --models lenet --steps 50 --threads 1

Each model as its config builds it, one SGD step of its own training loss on a random batch
(forward, loss and metric updates, backward, optimizer step): median milliseconds over
``--steps`` steps after 5 warm-up steps, the two layouts alternating in ``--repeats`` rounds.
Writes ``bench/results/memory_format.md``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def step_ms(module, steps: int, batch_size: int) -> float:
    import torch

    optimizer = torch.optim.SGD(module.parameters(), lr=1e-3, momentum=0.9)
    x = torch.rand(batch_size, 1, 28, 28)
    y = torch.randint(0, 10, (batch_size,))
    times = []
    for i in range(5 + steps):
        started = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        module._step((x, y), "train").backward()
        optimizer.step()
        if i >= 5:
            times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=["lenet", "small", "conv_bn", "vae"])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()

    import torch

    from hydra_app.config_env import compose
    from training import components

    if args.threads:
        torch.set_num_threads(args.threads)

    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    lines = [
        f"Batch {args.batch_size}, {torch.get_num_threads()} threads, median ms per training step "
        f"(range over {args.repeats} rounds); load: {load}",
        "",
        "| model | NCHW | channels-last | channels-last / NCHW |",
        "| --- | ---: | ---: | ---: |",
    ]
    for model in args.models:
        timings: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(args.repeats):
            for channels_last in (False, True):
                overrides = [f"model={model}", f"channels_last={channels_last}"]
                cfg = compose([*overrides, "paths.output_dir=x"])
                torch.manual_seed(0)
                module = components.model(cfg)
                timings[channels_last].append(step_ms(module, args.steps, args.batch_size))
        nchw, nhwc = (statistics.median(timings[k]) for k in (False, True))
        spans = {k: f"{min(v):.1f}-{max(v):.1f}" for k, v in timings.items()}
        lines.append(
            f"| {model} | {nchw:.1f} ({spans[False]}) | {nhwc:.1f} ({spans[True]}) "
            f"| {nhwc / nchw:.2f} |"
        )
        print(lines[-1], flush=True)
    text = "\n".join(lines) + "\n"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "memory_format.md").write_text(text)
    print("\n" + text)


if __name__ == "__main__":
    main()
