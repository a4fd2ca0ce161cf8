"""t-SNE implementations and settings side by side: wall time and the class separation they keep.

    python bench/tsne_choices.py --checkpoint <run dir>/checkpoints/last.ckpt
    python bench/tsne_choices.py --checkpoint ... --rounds 2 --choices "<name>" ...

On the end-of-fit subset (2,000 class-stratified test images) of every feature tap, each choice
maps the tap to 2-D on one thread; the table gives its seconds per tap and the 5-fold kNN
accuracy of the map (as ``separation/tsne/<tap>/knn_acc``), next to the difference from
scikit-learn's TSNE with its defaults (``sklearn``). With ``--rounds`` the choices take turns
once per round, so a machine whose speed drifts slows them alike; the table gives medians over
the rounds. Writes ``bench/results/tsne_choices.md``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def choices(seed: int) -> dict:
    from openTSNE.sklearn import TSNE as OpenTSNE
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE
    from sklearn.pipeline import make_pipeline

    return {
        "sklearn": lambda d: TSNE(init="pca", random_state=seed),
        "sklearn, PCA to 50 first": lambda d: (
            make_pipeline(PCA(50, random_state=seed), TSNE(init="pca", random_state=seed))
            if d > 50
            else TSNE(init="pca", random_state=seed)
        ),
        "sklearn, 500 iterations": lambda d: TSNE(init="pca", max_iter=500, random_state=seed),
        "sklearn, 400 iterations, angle 0.8": lambda d: TSNE(
            init="pca", max_iter=400, angle=0.8, random_state=seed
        ),
        "sklearn, 350 iterations, angle 0.8": lambda d: TSNE(
            init="pca", max_iter=350, angle=0.8, random_state=seed
        ),
        "sklearn, 300 iterations, learning rate 200, angle 0.8": lambda d: TSNE(
            init="pca", max_iter=300, learning_rate=200, angle=0.8, random_state=seed
        ),
        "sklearn, 400 iterations, angle 0.8, perplexity 20": lambda d: TSNE(
            init="pca", max_iter=400, angle=0.8, perplexity=20, random_state=seed
        ),
        "openTSNE (BH)": lambda d: OpenTSNE(
            negative_gradient_method="bh", n_jobs=1, random_state=seed
        ),
        "openTSNE (FFT)": lambda d: OpenTSNE(
            negative_gradient_method="fft", n_jobs=1, random_state=seed
        ),
        "openTSNE (FFT), 250+250 iterations": lambda d: OpenTSNE(
            negative_gradient_method="fft", n_iter=250, n_jobs=1, random_state=seed
        ),
        "openTSNE (BH), 250+250 iterations": lambda d: OpenTSNE(
            negative_gradient_method="bh", n_iter=250, n_jobs=1, random_state=seed
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="lenet")
    parser.add_argument("--checkpoint", help="a Lightning checkpoint of that model")
    parser.add_argument("--num-images", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--rounds", type=int, default=1, help="turns of every choice")
    parser.add_argument(
        "--choices", nargs="*", help="names of the choices to run (default: all); sklearn always"
    )
    args = parser.parse_args()

    import numpy as np
    import torch
    from joblib import Parallel, delayed
    from threadpoolctl import threadpool_limits

    from analysis.projections import stratified_subset
    from analysis.separation import separation_scores
    from callbacks.feature_embeddings import read_taps
    from hydra_app.config_env import compose
    from training import components

    cfg = compose([f"model={args.model}", "paths.output_dir=unused"])
    data = components.datamodule(cfg)
    data.setup()
    module = components.model(cfg)
    if args.checkpoint:
        state = torch.load(args.checkpoint, map_location="cpu", weights_only=True)["state_dict"]
        module.load_state_dict(state)
    images, targets = data.splits["test"]
    chosen = torch.from_numpy(stratified_subset(targets.numpy(), args.num_images, seed=0))
    taps, _ = read_taps(module, data.to_model_input, images[chosen])
    labels = targets[chosen].numpy()
    taps = {tap: f.numpy() for tap, f in taps.items()}

    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    runs: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    with threadpool_limits(1, user_api="openmp"):
        for _ in range(args.rounds):
            for name, make in choices(cfg.seed).items():
                if args.choices and name != "sklearn" and name not in args.choices:
                    continue
                for tap, features in taps.items():
                    wall, cpu = time.perf_counter(), time.process_time()
                    points = make(features.shape[1]).fit_transform(features)
                    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                    knn = separation_scores(np.asarray(points), labels)["knn_acc"]
                    runs.setdefault((name, tap), []).append((wall, cpu, knn))
                    print(f"{name:38s} {tap:7s} {wall:6.2f} s  CPU {cpu:6.2f} s  kNN {knn:.4f}")
        rows = [
            (name, tap, *(statistics.median(column) for column in zip(*measured, strict=True)))
            for (name, tap), measured in runs.items()
        ]

        # The taps in parallel, one process each (two at a time on a 2-core machine).
        def fit(features):
            from openTSNE.sklearn import TSNE as OpenTSNE

            est = OpenTSNE(n_jobs=1, negative_gradient_method="bh", random_state=cfg.seed)
            return est.fit_transform(features)

        parallel_s = None
        if not args.choices:
            wall = time.perf_counter()
            jobs = min(len(taps), os.cpu_count() or 1)
            Parallel(n_jobs=jobs)(delayed(fit)(f) for f in taps.values())
            parallel_s = time.perf_counter() - wall

    reference = {tap: knn for name, tap, _, _, knn in rows if name == "sklearn"}
    lines = [
        f"t-SNE of {len(labels)} test images per tap, one thread, median of {args.rounds} "
        f"round(s); load: {load}",
        "",
        "| choice | tap | wall s | CPU s | kNN acc | − sklearn |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for name, tap, wall, cpu, knn in rows:
        lines.append(
            f"| {name} | {tap} | {wall:.2f} | {cpu:.2f} | {knn:.4f} | {knn - reference[tap]:+.4f} |"
        )
    totals = {}
    for name, _, wall, _, _ in rows:
        totals[name] = totals.get(name, 0) + wall
    lines += ["", "| choice | all taps, wall s |", "| --- | ---: |"]
    lines += [f"| {name} | {total:.2f} |" for name, total in totals.items()]
    if parallel_s is not None:
        lines.append(f"| openTSNE (BH), taps in parallel processes | {parallel_s:.2f} |")
    text = "\n".join(lines) + "\n"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "tsne_choices.md").write_text(text)
    print("\n" + text)


if __name__ == "__main__":
    main()
