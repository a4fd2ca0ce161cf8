"""Time to result: a whole default run and its end-of-fit analysis against the hand-written floor.

    python bench/time_to_result.py                    # LeNet-5, 15 epochs, 2 repeats
    python bench/time_to_result.py --repeats 3 --numpy-batches 30

In every repeat, each in its own process and alternating which goes first:

- **floor**: the hand-written loop (batches sliced from tensors converted once) doing what the
  default run does: ``--epochs`` epochs of training, a validation pass after each, one test pass;
  timed from starting the process to its end.
- **project**: ``python train.py model=lenet``, timed from starting the process to its end
  (``metrics.json`` is written last), with a phase timer added as one more callback.
- **numpy**: ``bench/numpy_lenet.py`` (from-scratch NumPy LeNet-5), its epoch extrapolated from
  ``--numpy-batches`` batches.

Ratios are taken within a repeat. The first repeat also checks the t-SNE quality: each tap's
5-fold kNN accuracy in the run's 2-D t-SNE map against scikit-learn's TSNE (the previous
default) on the same points and weights. Writes ``bench/results/time_to_result.md`` and
``.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PYTHON = sys.executable
TIMER = "bench.phase_timer.PhaseTimer"


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def floor_worker(args) -> dict:
    """The floor's whole run; marks are ``time.time()``."""
    marks = {}
    import torch
    import torch.nn.functional as F

    from hydra_app.config_env import compose
    from training import components

    marks["imported"] = time.time()
    cfg = compose(
        [f"model={args.model}", f"trainer.max_epochs={args.epochs}", "paths.output_dir=x"]
    )
    torch.manual_seed(cfg.seed)
    data = components.datamodule(cfg)
    data.prepare_data()
    data.setup()
    module = components.model(cfg)
    configured = module.configure_optimizers()
    optimizer, scheduler = configured["optimizer"], configured["lr_scheduler"]["scheduler"]
    x_train, y_train = data.splits["train"]
    x_train = data.to_model_input(x_train)  # converted once, up front
    batch = cfg.data.batch_size

    def evaluate(split: str) -> float:
        images, targets = data.splits[split]
        module.eval()
        correct = 0
        with torch.no_grad():
            for xb, yb in zip(
                images.split(cfg.data.eval_batch_size),
                targets.split(cfg.data.eval_batch_size),
                strict=True,
            ):
                correct += (module(data.to_model_input(xb)).argmax(1) == yb).sum().item()
        module.train()
        return correct / len(targets)

    marks["data_ready"] = time.time()
    epochs, vals = [], []
    for epoch in range(args.epochs):
        start = time.time()
        order = torch.randperm(len(y_train), generator=torch.Generator().manual_seed(epoch))
        for idx in order.split(batch):
            loss = F.cross_entropy(module(x_train[idx]), y_train[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        scheduler.step()
        mid = time.time()
        evaluate("val")
        epochs.append(mid - start)
        vals.append(time.time() - mid)
    start = time.time()
    test_acc = evaluate("test")
    marks["test_s"] = time.time() - start
    marks.update(epochs=epochs, vals=vals, test_acc=test_acc, done=time.time())
    return marks


def tsne_check_worker(args) -> dict:
    """kNN accuracy of scikit-learn's TSNE maps of the run's taps, on the run's own subset."""
    import torch
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    from analysis.projections import project_2d, stratified_subset
    from analysis.separation import separation_scores
    from callbacks.feature_embeddings import read_taps
    from hydra_app.config_env import compose
    from training import components

    run_dir = Path(args.run_dir)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    cfg = compose([f"model={args.model}", "paths.output_dir=x"])
    data = components.datamodule(cfg)
    data.setup()
    module = components.model(cfg)
    state = torch.load(metrics["best_checkpoint"], map_location="cpu", weights_only=True)
    module.load_state_dict(state["state_dict"])
    embed = cfg.callbacks.feature_embeddings
    images, targets = data.splits["test"]
    chosen = torch.from_numpy(stratified_subset(targets.numpy(), embed.num_images, embed.seed))
    taps, _ = read_taps(module, data.to_model_input, images[chosen])
    labels = targets[chosen].numpy()
    out = {}
    with threadpool_limits(1, user_api="openmp"):
        for tap, features in taps.items():
            points = project_2d(TSNE(init="pca", random_state=embed.seed), features.numpy())
            sklearn_knn = separation_scores(points, labels, embed.knn_neighbors, seed=embed.seed)
            out[tap] = {
                "sklearn": sklearn_knn["knn_acc"],
                "run": metrics[f"separation/tsne/{tap}/knn_acc"],
            }
    return out


def launch(command: list[str], env=None) -> tuple[float, float, subprocess.CompletedProcess]:
    """(start time, seconds to the process's end, the process)."""
    started = time.time()
    out = subprocess.run(command, capture_output=True, text=True, check=False, env=env, cwd=ROOT)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{out.stderr[-4000:]}")
    return started, time.time() - started, out


def worker(kind: str, args, **extra) -> dict:
    command = [PYTHON, __file__, "--worker", kind, "--model", args.model, "--epochs"]
    command += [str(args.epochs), *[f"--{k.replace('_', '-')}={v}" for k, v in extra.items()]]
    started, seconds, out = launch(command)
    return {"started": started, "process_s": seconds, **json.loads(out.stdout.splitlines()[-1])}


def project(args, run_dir: Path) -> dict:
    marks_file = run_dir.with_suffix(".phases.json")
    command = [
        PYTHON,
        "train.py",
        f"model={args.model}",
        f"trainer.max_epochs={args.epochs}",
        f"paths.output_dir={run_dir}",
        "callbacks.progress_bar.mode=none",
        f"+callbacks.phase_timer._target_={TIMER}",
        f"+callbacks.phase_timer.path={marks_file}",
        *args.overrides,
    ]
    started, seconds, _ = launch(command, env={**os.environ, "PYTHONPATH": str(ROOT)})
    marks = json.loads(marks_file.read_text())
    metrics = json.loads((run_dir / "metrics.json").read_text())
    return {
        "started": started,
        "process_s": seconds,
        "run_dir": str(run_dir),
        "marks": marks,
        "metrics": metrics,
    }


def numpy_lenet(args) -> dict:
    command = [PYTHON, str(ROOT / "bench" / "numpy_lenet.py"), f"--batches={args.numpy_batches}"]
    _, _, out = launch(command)
    return json.loads(out.stdout.splitlines()[-1])


def floor_phases(f: dict) -> dict[str, float]:
    epochs = f["epochs"]
    return {
        "start-up: imports": f["imported"] - f["started"],
        "data: read and convert": f["data_ready"] - f["imported"],
        "first epoch's extra (warm-up)": epochs[0] - statistics.median(epochs[1:] or epochs),
        "training epochs (at the median epoch)": statistics.median(epochs[1:] or epochs)
        * len(epochs),
        "validation": sum(f["vals"]),
        "test": f["test_s"],
        "end of fit (figures, embeddings)": 0.0,
        "exit": f["started"] + f["process_s"] - f["done"],
    }


def project_phases(p: dict) -> dict[str, float]:
    m, end = p["marks"], p["started"] + p["process_s"]
    starts, ends = m["train_epoch_start"], m["train_last_batch_end"]
    epochs = [e - s for s, e in zip(starts, ends, strict=True)]
    median = statistics.median(epochs[1:] or epochs)
    vals = [e - s for s, e in zip(m["val_start"], m["val_end"], strict=True)]
    train_total = m["train_end"] - starts[0]
    embeddings = p["metrics"].get("embeddings/wall_time_s", 0.0)
    return {
        "start-up: imports, config, build": m["built"] - p["started"],
        "data: read and convert": m["fit_start"] - m["built"],
        "sanity check": starts[0] - m["fit_start"],
        "first epoch's extra (warm-up)": epochs[0] - median,
        "training epochs (at the median epoch)": median * len(epochs),
        "validation (with checkpoints)": sum(vals),
        "epoch ends (callbacks, logging)": train_total - sum(epochs) - sum(vals),
        "end of fit: embeddings": embeddings,
        "end of fit: other figures": m["fit_end"] - m["train_end"] - embeddings,
        "test (best checkpoint loaded)": m["test_end"] - m["fit_end"],
        "exit (metrics.json, HParams)": end - m["test_end"],
    }


def _range(values: list[float], spec: str = ".2f") -> str:
    if len(values) == 1:
        return format(values[0], spec)
    lo, hi = min(values), max(values)
    return f"{statistics.median(values):{spec}} ({lo:{spec}}-{hi:{spec}})"


def report(repeats: list[dict], quality: dict, args) -> str:
    floor_epoch = [statistics.median(r["floor"]["epochs"][1:]) for r in repeats]
    embed = [r["project"]["metrics"]["embeddings/wall_time_s"] for r in repeats]
    floor_total = [r["floor"]["process_s"] for r in repeats]
    project_total = [r["project"]["process_s"] for r in repeats]
    numpy_epoch = [r["numpy"]["epoch_s"] for r in repeats]
    lines = [
        f"{args.model}, {args.epochs} epochs, {len(repeats)} repeats; CPU, {os.cpu_count()} cores",
        "",
        "Load (`uptime`) at each repeat's start:",
        "",
        *[f"- {r['uptime']}" for r in repeats],
        "",
        "| measure | seconds | × floor epoch | × floor run |",
        "| --- | ---: | ---: | ---: |",
        f"| floor epoch (training only, median) | {_range(floor_epoch)} | 1 | |",
        f"| end-of-fit analysis (embeddings/wall_time_s) | {_range(embed)} | "
        f"{_range([e / f for e, f in zip(embed, floor_epoch, strict=True)])} | |",
        f"| floor run: {args.epochs} epochs + validation + test | {_range(floor_total)} | | 1 |",
        f"| `python train.py model={args.model}` | {_range(project_total)} | | "
        f"{_range([p / f for p, f in zip(project_total, floor_total, strict=True)])} |",
        f"| NumPy LeNet-5 epoch (from {repeats[0]['numpy']['timed_batches']} batches) | "
        f"{_range(numpy_epoch, '.1f')} | "
        f"{_range([n / f for n, f in zip(numpy_epoch, floor_epoch, strict=True)], '.1f')} | |",
        "",
        "Where the time goes (median seconds over repeats):",
        "",
        "| phase | floor | project | project − floor |",
        "| --- | ---: | ---: | ---: |",
    ]
    floor_ph = [floor_phases({**r["floor"]}) for r in repeats]
    project_ph = [project_phases(r["project"]) for r in repeats]
    # Rows of the project's phases, the floor's counterpart where it has one.
    pairs = {
        "start-up: imports, config, build": "start-up: imports",
        "data: read and convert": "data: read and convert",
        "sanity check": None,
        "first epoch's extra (warm-up)": "first epoch's extra (warm-up)",
        "training epochs (at the median epoch)": "training epochs (at the median epoch)",
        "validation (with checkpoints)": "validation",
        "epoch ends (callbacks, logging)": None,
        "end of fit: embeddings": None,
        "end of fit: other figures": None,
        "test (best checkpoint loaded)": "test",
        "exit (metrics.json, HParams)": "exit",
    }
    for name, floor_name in pairs.items():
        p = statistics.median(ph[name] for ph in project_ph)
        f = statistics.median(ph[floor_name] for ph in floor_ph) if floor_name else 0.0
        lines.append(f"| {name} | {f:.2f} | {p:.2f} | {p - f:+.2f} |")
    lines.append(
        f"| whole process | {statistics.median(floor_total):.2f} | "
        f"{statistics.median(project_total):.2f} | "
        f"{statistics.median(project_total) - statistics.median(floor_total):+.2f} |"
    )
    tests = [r["floor"]["test_acc"] for r in repeats]
    project_tests = [r["project"]["metrics"].get("test/acc") for r in repeats]
    lines += [
        "",
        f"Test accuracy: floor {_range(tests, '.4f')}, project {_range(project_tests, '.4f')}.",
    ]
    if quality:
        lines += [
            "",
            "t-SNE quality: 5-fold kNN accuracy in the 2-D map, same points and weights:",
            "",
            "| tap | this run's t-SNE | scikit-learn TSNE | difference |",
            "| --- | ---: | ---: | ---: |",
        ]
        for tap, q in quality.items():
            lines.append(
                f"| {tap} | {q['run']:.4f} | {q['sklearn']:.4f} | {q['run'] - q['sklearn']:+.4f} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="lenet")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--numpy-batches", type=int, default=20)
    parser.add_argument("--no-tsne-check", action="store_true")
    parser.add_argument("--overrides", nargs="*", default=[], help="more train.py overrides")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--worker", choices=["floor", "tsne-check"], help=argparse.SUPPRESS)
    parser.add_argument("--run-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        work = {"floor": floor_worker, "tsne-check": tsne_check_worker}[args.worker]
        print(json.dumps(work(args)))
        return

    args.out.mkdir(parents=True, exist_ok=True)
    runs = args.out / "runs"
    repeats, quality = [], {}
    for repeat in range(args.repeats):
        r = {"uptime": uptime()}
        print(r["uptime"], flush=True)
        order = ["floor", "project"] if repeat % 2 == 0 else ["project", "floor"]
        for kind in order:
            if kind == "floor":
                r["floor"] = worker("floor", args)
            else:
                run_dir = runs / f"time_to_result-{time.monotonic_ns()}"
                r["project"] = project(args, run_dir)
            print(f"repeat {repeat} {kind}: {r[kind]['process_s']:.1f} s", flush=True)
        r["numpy"] = numpy_lenet(args)
        print(f"repeat {repeat} numpy: {r['numpy']}", flush=True)
        repeats.append(r)
        (args.out / "time_to_result.json").write_text(json.dumps(repeats, indent=1))
    if not args.no_tsne_check:
        checked = worker("tsne-check", args, run_dir=repeats[0]["project"]["run_dir"])
        quality = {tap: q for tap, q in checked.items() if isinstance(q, dict)}
    text = report(repeats, quality, args)
    (args.out / "time_to_result.md").write_text(text)
    print("\n" + text)


if __name__ == "__main__":
    main()
