"""Time each part of the feature-embeddings callback on real test images.

    python bench/feature_embeddings_cost.py                      # untrained LeNet-5
    python bench/feature_embeddings_cost.py --checkpoint <run dir>/checkpoints/last.ckpt
    python bench/feature_embeddings_cost.py --model small --threads 0   # all cores

Prints wall and CPU seconds per stage and tap, one after another in this process. ``--threads``
(default 1, as the callback) caps the OpenMP threads of t-SNE's gradient loop, which matters on
a machine shared with other jobs. Then the callback as a whole, with each ``--workers`` count
(0: in this process; n: n worker processes, started and warm before the clock starts).
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
    parser.add_argument("--workers", type=int, nargs="*", default=[0, 2, 3])
    args = parser.parse_args()

    import torch
    from hydra.utils import instantiate
    from threadpoolctl import threadpool_limits
    from torch.utils.tensorboard import SummaryWriter

    from analysis.class_figures import draw, embedding_figure, embedding_sheet
    from analysis.projections import project_2d, stratified_subset
    from analysis.projector import sprite_thumbnails, write_projector
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
    projections = {
        name: instantiate(spec)
        for name, spec in cfg.callbacks.feature_embeddings.projections.items()
    }
    images, targets = data.splits["test"]
    table: list[tuple[str, float, float]] = []
    threads = args.threads or None
    with threadpool_limits(threads, user_api="openmp"), tempfile.TemporaryDirectory() as out:
        with timed("subset + read taps", table):
            chosen = torch.from_numpy(stratified_subset(targets.numpy(), args.num_images, seed=0))
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
                    writer.add_image(
                        f"{method}/{tap}", draw(figure, Path(out) / "f.png"), 0, dataformats="HWC"
                    )
                sheet = embedding_sheet(points, labels, data.class_names, method)
                writer.add_image(
                    f"{method}/all", draw(sheet, Path(out) / "f.png"), 0, dataformats="HWC"
                )
        with timed("projector (3 taps)", table):
            thumbnails = sprite_thumbnails(images[chosen])
            metadata = {"label": labels.tolist(), "class": [data.class_names[i] for i in labels]}
            features = {tap: values.numpy() for tap, values in taps.items()}
            write_projector(out, 0, features, metadata, thumbnails)
        writer.close()

    width = max(len(row[0]) for row in table)
    print(f"{'':<{width}}  {'wall s':>7}  {'CPU s':>7}")
    for label, wall, cpu in table:
        print(f"{label:<{width}}  {wall:7.2f}  {cpu:7.2f}")
    total_wall, total_cpu = (sum(row[i] for row in table) for i in (1, 2))
    print(f"{'total':<{width}}  {total_wall:7.2f}  {total_cpu:7.2f}")

    print("\nThe callback as a whole (end of fit: read taps, project, score, draw, projector)")
    for workers in args.workers:
        print(f"{workers} workers: {time_callback(cfg, data, module, workers):7.2f} s wall")


def time_callback(cfg, data, module, workers: int) -> float:
    """Wall seconds of one ``FeatureEmbeddings.embed`` as configured, with ``workers``."""
    from types import SimpleNamespace

    from hydra.utils import instantiate
    from lightning.pytorch.loggers import TensorBoardLogger

    with tempfile.TemporaryDirectory() as out:
        callback = instantiate(cfg.callbacks.feature_embeddings, num_workers=workers)
        callback._pool = callback._start_pool(len(module.tap_names))
        if callback._pool is not None:
            time.sleep(10)  # a fit's first epoch: the workers import their libraries meanwhile
        logger = TensorBoardLogger(out, name="", version="")
        trainer = SimpleNamespace(
            is_global_zero=True,
            global_step=0,
            fast_dev_run=False,
            datamodule=data,
            default_root_dir=out,
            loggers=[logger],
        )
        started = time.perf_counter()
        callback.embed(trainer, module)
        seconds = time.perf_counter() - started
        callback.teardown(trainer, module, "fit")
        logger.finalize("success")
    return seconds


if __name__ == "__main__":
    main()
