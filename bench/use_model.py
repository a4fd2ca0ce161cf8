"""Time eval.py and predict.py on a LeNet-5 checkpoint, and the image-folder decode and cache.

    python bench/use_model.py                         # trains a short LeNet-5 run first
    python bench/use_model.py --checkpoint <run dir>/checkpoints/last.ckpt

On real Fashion-MNIST (data/ or the system copy): eval.py on the 10,000 test images with the
default end-of-run callbacks; predict.py on 1,000 test images written as PNGs; decoding 10,000
training images written as PNGs in the ImageFolder layout, then reading them from the cache.
Prints wall seconds (CLI times include Python start-up and imports) and CPU seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def cli(script: str, *args: str) -> tuple[float, float]:
    """Wall and CPU (children's user + system) seconds of ``python <script> ARGS``."""
    before = os.times()
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, str(ROOT / script), *args], capture_output=True, text=True, cwd=ROOT
    )
    wall = time.perf_counter() - started
    after = os.times()
    if result.returncode != 0:
        sys.exit(f"{script} failed:\n{result.stderr[-3000:]}")
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    return wall, cpu


def write_pngs(images, labels, classes, folder: Path) -> None:
    from PIL import Image

    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        target = folder / classes[int(label)].replace("/", "-")
        target.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(target / f"{i:05d}.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="a LeNet-5 checkpoint; default: train one briefly")
    parser.add_argument("--predict-images", type=int, default=1000)
    parser.add_argument("--folder-images", type=int, default=10000)
    args = parser.parse_args()

    from torchvision.datasets import FashionMNIST

    from lightning_modules.data.image_folder import ImageFolderDataModule

    work = Path(tempfile.mkdtemp(prefix="use_model_bench_"))
    quiet = ["callbacks.progress_bar.mode=none", "trainer.accelerator=cpu"]
    results: dict[str, float] = {}
    ckpt = args.checkpoint
    if ckpt is None:
        run = work / "train"
        cli(
            "train.py",
            *quiet,
            "trainer.max_epochs=1",
            "+trainer.limit_train_batches=100",
            "callbacks.feature_embeddings=null",
            f"hydra.run.dir={run}",
        )
        ckpt = json.loads((run / "metrics.json").read_text())["best_checkpoint"]

    wall, cpu = cli("eval.py", f"ckpt_path={ckpt}", *quiet, f"hydra.run.dir={work / 'eval'}")
    results |= {"eval_wall_s": wall, "eval_cpu_s": cpu}
    wall, cpu = cli(
        "eval.py",
        f"ckpt_path={ckpt}",
        *quiet,
        "callbacks.feature_embeddings=null",
        f"hydra.run.dir={work / 'eval_no_embeddings'}",
    )
    results |= {"eval_no_embeddings_wall_s": wall, "eval_no_embeddings_cpu_s": cpu}

    test = FashionMNIST(ROOT / "data", train=False)
    n = args.predict_images
    write_pngs(test.data[:n].numpy(), test.targets[:n], test.classes, work / "pngs")
    wall, cpu = cli(
        "predict.py",
        f"ckpt_path={ckpt}",
        f"inputs={work / 'pngs'}",
        f"hydra.run.dir={work / 'predict'}",
    )
    results |= {"predict_wall_s": wall, "predict_cpu_s": cpu, "predict_images_per_s": n / wall}

    train = FashionMNIST(ROOT / "data", train=True)
    n = args.folder_images
    write_pngs(train.data[:n].numpy(), train.targets[:n], train.classes, work / "folder" / "train")
    for label in ("decode", "cache"):
        started, cpu0 = time.perf_counter(), time.process_time()
        ImageFolderDataModule(str(work / "folder"), cache_dir=str(work / "cache")).setup()
        results[f"folder_{label}_wall_s"] = time.perf_counter() - started
        results[f"folder_{label}_cpu_s"] = time.process_time() - cpu0
    results["folder_images"] = n
    print(json.dumps({k: round(v, 2) for k, v in results.items()}, indent=2))
    print(f"(work dir {work}; load: {os.getloadavg()})")


if __name__ == "__main__":
    main()
