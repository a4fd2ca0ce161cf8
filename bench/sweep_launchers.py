"""A LeNet-5 sweep one job after another against two jobs at a time on this machine.

    python bench/sweep_launchers.py                    # 4 jobs of 2 epochs, both launchers
    python bench/sweep_launchers.py --epochs 15 --repeats 2

The same 4-job sweep (``optimizer.lr=0.1,0.05,0.02,0.01``) runs with Hydra's basic launcher
(sequential, torch's default threads) and with ``hydra/launcher=local`` (joblib, 2 processes,
each capped at one torch/OpenMP thread by joblib). Timed from starting ``train.py -m`` to its
end; alternates which goes first. Writes ``bench/results/sweep_launchers.md``.
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
LAUNCHERS = {
    "sequential (basic)": [],
    "hydra/launcher=local (2 jobs x 1 thread)": ["hydra/launcher=local"],
}
SWEEP = ["model=lenet", "optimizer.lr=0.1,0.05,0.02,0.01", "callbacks.progress_bar.mode=none"]


def sweep(launcher: list[str], epochs: int, out: Path) -> tuple[float, list[dict]]:
    sweep_dir = out / f"sweep-{time.monotonic_ns()}"
    command = [
        sys.executable,
        "train.py",
        "-m",
        *SWEEP,
        f"trainer.max_epochs={epochs}",
        f"hydra.sweep.dir={sweep_dir}",
        *launcher,
    ]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-4000:]}")
    jobs = [json.loads(p.read_text()) for p in sorted(sweep_dir.glob("*/metrics.json"))]
    return seconds, jobs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()

    results: dict[str, list[float]] = {name: [] for name in LAUNCHERS}
    loads, accs = [], {name: [] for name in LAUNCHERS}
    for repeat in range(args.repeats):
        loads.append(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
        names = list(LAUNCHERS)[:: 1 if repeat % 2 == 0 else -1]
        for name in names:
            seconds, jobs = sweep(LAUNCHERS[name], args.epochs, args.out / "runs")
            if len(jobs) != 4 or any(j.get("status") != "completed" for j in jobs):
                raise SystemExit(f"{name}: not every job completed: {jobs}")
            results[name].append(seconds)
            accs[name].append([j.get("test/acc") for j in jobs])
            print(f"repeat {repeat} {name}: {seconds:.1f} s", flush=True)

    sequential = results[next(iter(LAUNCHERS))]
    lines = [
        f"4 LeNet-5 jobs of {args.epochs} epochs each, {args.repeats} repeats. Load at each start:",
        "",
        *[f"- {load}" for load in loads],
        "",
        "| launcher | sweep s | jobs per hour | × sequential time |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, times in results.items():
        ratios = [t / s for t, s in zip(times, sequential, strict=True)]
        per_hour = [4 * 3600 / t for t in times]
        lines.append(
            f"| {name} | {statistics.median(times):.1f} ({min(times):.1f}-{max(times):.1f}) | "
            f"{statistics.median(per_hour):.0f} ({min(per_hour):.0f}-{max(per_hour):.0f}) | "
            f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f}) |"
        )
    lines += ["", *[f"- test/acc, {name}: {accs[name]}" for name in LAUNCHERS]]
    text = "\n".join(lines) + "\n"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "sweep_launchers.md").write_text(text)
    print("\n" + text)


if __name__ == "__main__":
    main()
