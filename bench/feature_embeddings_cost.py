"""Time each part of the feature-embeddings callback on real test images.

    python bench/feature_embeddings_cost.py                      # untrained LeNet-5
    python bench/feature_embeddings_cost.py --checkpoint <run dir>/checkpoints/last.ckpt
    python bench/feature_embeddings_cost.py --model small --threads 0   # all cores

Prints wall and CPU seconds per stage and tap. ``--threads`` (default 1, as the callback) caps
the OpenMP threads of t-SNE's gradient loop, which matters on a machine shared with other jobs.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


@contextmanager
def timed(label: str, table: list):
    """Wall and CPU seconds: on a busy machine CPU time is what the work costs on an idle one."""
    wall, cpu = time.perf_counter(), time.process_time()
    yield
    table.append((label, time.perf_counter() - wall, time.process_time() - cpu))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="lenet")
    parser.add_argument("--checkpoint", help="a Lightning checkpoint of that model")
    parser.add_argument("--num-images", type=int, default=2000)
    parser.add_argument(
        "--threads", type=int, default=1, help="OpenMP threads for scikit-learn (0: all cores)"
    )
    args = parser.parse_args()

    import torch
    from hydra.utils import instantiate
    from threadpoolctl import threadpool_limits
    from torch.utils.tensorboard import SummaryWriter

    from analysis.figures import embedding_figure, embedding_sheet
    from analysis.projections import project_2d, stratified_subset
    from analysis.projector import add_projector_embedding, sprite_thumbnails
    from analysis.separation import separation_scores
    from callbacks.feature_embeddings import read_taps
    from runs import build
    from runs.config_env import compose
    from storage.run_files import save_figure

    cfg = compose([f"model={args.model}", "paths.output_dir=unused"])
    data = build.datamodule(cfg)
    data.setup()
    module = build.model(cfg)
    if args.checkpoint:
        state = torch.load(args.checkpoint, map_location="cpu", weights_only=True)["state_dict"]
        module.load_state_dict(state)
    projections = {
        name: instantiate(spec)
        for name, spec in cfg.callbacks.feature_embeddings.projections.items()
    }
    images, targets = data.splits["test"]
    table: list[tuple[str, float, float]] = []
    threads = args.threads or None
    with threadpool_limits(threads, user_api="openmp"), tempfile.TemporaryDirectory() as out:
        with timed("subset + read taps", table):
            chosen = stratified_subset(targets, args.num_images, seed=0)
            taps, _ = read_taps(module, data.to_model_input, images[chosen])
        labels = targets[chosen].numpy()
        for tap, features in taps.items():
            with timed(f"separation scores, features {tap} {tuple(features.shape)}", table):
                separation_scores(features.numpy(), labels)
        for method, estimator in projections.items():
            points = {}
            for tap, features in taps.items():
                with timed(f"{method} {tap}", table):
                    points[tap] = project_2d(estimator, features.numpy())
                with timed(f"separation scores, {method} {tap}", table):
                    separation_scores(points[tap], labels)
            writer = SummaryWriter(out)
            with timed(f"figures {method} (PNG + TensorBoard)", table):
                for tap, p in points.items():
                    figure = embedding_figure(p, labels, data.class_names, f"{method}: {tap}")
                    save_figure(figure, Path(out) / f"{method}_{tap}.png")
                    writer.add_figure(f"{method}/{tap}", figure, close=False)
                sheet = embedding_sheet(points, labels, data.class_names, method)
                save_figure(sheet, Path(out) / f"{method}.png")
                writer.add_figure(f"{method}/all", sheet, close=False)
        with timed("projector (3 taps)", table):
            thumbnails = sprite_thumbnails(images[chosen])
            metadata = {"label": labels.tolist(), "class": [data.class_names[i] for i in labels]}
            for tap, features in taps.items():
                add_projector_embedding(writer, tap, features, metadata, thumbnails, step=0)
        writer.close()

    width = max(len(row[0]) for row in table)
    print(f"{'':<{width}}  {'wall s':>7}  {'CPU s':>7}")
    for label, wall, cpu in table:
        print(f"{label:<{width}}  {wall:7.2f}  {cpu:7.2f}")
    total_wall, total_cpu = (sum(row[i] for row in table) for i in (1, 2))
    print(f"{'total':<{width}}  {total_wall:7.2f}  {total_cpu:7.2f}")


if __name__ == "__main__":
    main()
