"""A trained checkpoint on its own: load_from_checkpoint, eval.py, predict.py and export.py."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from inference import loading
from lightning_modules.data.images import invert_choice
from tests.conftest import run_cli, tiny_overrides
from tests.tiny_data import TinyFashionMNIST, write_idx_dataset, write_image_folder
from training import checkpoint_description

# No t-SNE in these runs: it takes longer than everything else here.
NO_EMBEDDINGS = "callbacks.feature_embeddings=null"


def train_tiny_lenet(root: Path) -> dict:
    """One tiny LeNet-5 run under ``root`` on data where two classes look alike, so test/acc is
    below 1: its data dir, metrics and best checkpoint."""
    data_dir = write_idx_dataset(root / "data", merge=(0, 6))
    run_dir = root / "run"
    result = run_cli(
        *tiny_overrides(data_dir, run_dir), NO_EMBEDDINGS, "hydra.run.dir=" + str(run_dir)
    )
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    return {
        "root": root,
        "data_dir": data_dir,
        "metrics": metrics,
        "ckpt": metrics["best_checkpoint"],
    }


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict:
    return train_tiny_lenet(tmp_path_factory.mktemp("use_model"))


def data_overrides(data_dir: Path) -> list[str]:
    """The run's data and CPU settings, for eval.py (whose config has no model group)."""
    keep = ("data.", "trainer.accelerator", "callbacks.progress_bar")
    return [o for o in tiny_overrides(data_dir, Path()) if o.startswith(keep)]


def test_load_from_checkpoint_needs_no_argument(trained):
    from lightning_modules.classifier import ImageClassifier

    model = ImageClassifier.load_from_checkpoint(trained["ckpt"], weights_only=True)
    saved = torch.load(trained["ckpt"], map_location="cpu", weights_only=True)["state_dict"]
    assert set(model.state_dict()) == set(saved)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in saved.items())
    spec = loading.load(trained["ckpt"]).spec
    assert spec.class_names == TinyFashionMNIST.classes and spec.shape == (1, 28, 28)
    assert spec.normalize is True  # the classifier's default, as trained


def test_eval_accuracy_equals_the_runs_test_acc(trained):
    out = trained["root"] / "eval"
    result = run_cli(
        f"ckpt_path={trained['ckpt']}",
        *data_overrides(trained["data_dir"]),
        NO_EMBEDDINGS,
        f"hydra.run.dir={out}",
        script="eval.py",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    run_acc = trained["metrics"]["test/acc"]
    assert run_acc < 1  # two classes look alike, so a wrong transform would show
    # The same weights on the same 200 images: any difference would be a multiple of 1/200.
    assert metrics["test/acc"] == pytest.approx(run_acc, abs=1e-6)
    assert metrics["class_names"] == TinyFashionMNIST.classes
    assert (out / "confusion_matrix.png").is_file()
    assert metrics["test/top_confused"][0]["true"] in ("T-shirt/top", "Shirt")


def test_eval_refuses_data_that_does_not_fit_the_checkpoint(trained, tmp_path):
    folder = write_image_folder(tmp_path / "photos", per_class=10)
    result = run_cli(
        f"ckpt_path={trained['ckpt']}",
        "data=image_folder",
        f"data.root={folder}",
        "data.channels=3",
        "data.cache_dir=null",
        f"hydra.run.dir={tmp_path / 'eval'}",
        script="eval.py",
    )
    assert result.returncode != 0
    assert "[3, 28, 28]" in result.stderr and "[1, 28, 28]" in result.stderr


def model_predictions(ckpt: str, images: np.ndarray) -> list[str]:
    loaded = loading.load(ckpt)
    x = loaded.transform().to_model_input(torch.from_numpy(images).unsqueeze(1))
    with torch.no_grad():
        indices = loaded.module(x).argmax(dim=1).tolist()
    return [loaded.spec.class_names[i] for i in indices]


def test_predict_gives_the_models_own_predictions_and_skips_what_is_no_image(trained, tmp_path):
    test_images = TinyFashionMNIST(trained["data_dir"], train=False).data[:12].numpy()
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for i, image in enumerate(test_images):
        Image.fromarray(image).save(inputs / f"test_{i:02d}.png")
    # Dark clothes on a light background, in colour, at another size and aspect ratio.
    inverted = Image.fromarray(255 - test_images[0]).convert("RGB").resize((42, 70))
    inverted.save(inputs / "photo.jpg", quality=98)
    (inputs / "notes.txt").write_text("not an image")
    out = tmp_path / "predict"
    result = run_cli(
        f"ckpt_path={trained['ckpt']}",
        f"inputs={inputs}",
        f"hydra.run.dir={out}",
        script="predict.py",
    )
    assert result.returncode == 3, result.stderr[-3000:]  # something was skipped
    assert "notes.txt" in result.stdout + result.stderr
    with open(out / "predictions.csv") as f:
        rows = {Path(row["file"]).name: row for row in csv.DictReader(f)}
    assert "notes.txt" not in rows and len(rows) == 13
    expected = model_predictions(trained["ckpt"], test_images)
    assert [rows[f"test_{i:02d}.png"]["class_1"] for i in range(12)] == expected
    assert rows["photo.jpg"]["class_1"] == expected[0]
    top3 = [float(rows["test_00.png"][f"prob_{k}"]) for k in (1, 2, 3)]
    assert top3 == sorted(top3, reverse=True) and sum(top3) <= 1 + 3e-4  # 4 decimals each


def test_predict_on_no_files_is_a_clear_error(trained, tmp_path):
    (tmp_path / "empty").mkdir()
    result = run_cli(
        f"ckpt_path={trained['ckpt']}",
        f"inputs={tmp_path / 'empty'}",
        f"hydra.run.dir={tmp_path / 'out'}",
        script="predict.py",
    )
    assert result.returncode != 0 and "names no file" in result.stderr


def export(trained, fmt: str, output: Path) -> Path:
    result = run_cli(
        f"ckpt_path={trained['ckpt']}",
        f"format={fmt}",
        f"output={output}",
        f"hydra.run.dir={output.parent / 'export_run'}",
        script="export.py",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return output


def reference_outputs(ckpt: str, images: torch.Tensor) -> np.ndarray:
    """The checkpoint's model on images in [0, 1], as the exported models take them."""
    loaded = loading.load(ckpt)
    with torch.no_grad():
        return loaded.module(loaded.transform().to_model_input(images)).numpy()


def test_onnx_matches_torch_under_onnxruntime(trained, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    path = export(trained, "onnx", tmp_path / "model.onnx")
    images = torch.randint(0, 256, (7, 1, 28, 28), generator=torch.Generator().manual_seed(1))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    # Exported with a batch of 2; a batch of 7 shows the batch size is dynamic.
    (outputs,) = session.run(None, {"images": images.float().div(255).numpy()})
    # float32 sums in another order: a few ulps of logits of magnitude ~10.
    np.testing.assert_allclose(
        outputs, reference_outputs(trained["ckpt"], images), rtol=1e-5, atol=1e-5
    )


def test_torchscript_predicts_in_a_process_that_does_not_import_the_project(trained, tmp_path):
    path = export(trained, "torchscript", tmp_path / "model.pt")
    images = torch.randint(0, 256, (5, 1, 28, 28), generator=torch.Generator().manual_seed(2))
    torch.save(images.float().div(255), tmp_path / "images.pt")
    script = textwrap.dedent(
        f"""
        import sys, importlib.abc
        PROJECT = {{"lightning_modules", "runs", "callbacks", "analysis", "storage"}}
        class Refuse(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path, target=None):
                if name.split(".")[0] in PROJECT:
                    raise ImportError("the project was imported: " + name)
        sys.meta_path.insert(0, Refuse())
        import torch
        model = torch.jit.load({str(path)!r})
        print(model(torch.load({str(tmp_path / "images.pt")!r})).argmax(1).tolist())
        """
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    predicted = json.loads(result.stdout.strip().splitlines()[-1])
    assert predicted == reference_outputs(trained["ckpt"], images).argmax(1).tolist()


def test_predict_with_a_vae_writes_reconstructions_and_samples(tmp_path, tiny_data_dir):
    """An untrained VAE's checkpoint, as train.py describes it: predict needs no training."""
    import lightning as L

    from tests.conftest import compose_tiny
    from training import components

    cfg = compose_tiny(tmp_path / "run", tiny_data_dir, "model=vae")
    datamodule, model = components.datamodule(cfg), components.model(cfg)
    checkpoint_description.describe(model, cfg, datamodule)
    trainer = L.Trainer(accelerator="cpu", max_epochs=0, logger=False, enable_progress_bar=False)
    trainer.fit(model, datamodule=datamodule)
    ckpt = tmp_path / "vae.ckpt"
    trainer.save_checkpoint(ckpt)
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for i, image in enumerate(TinyFashionMNIST(tiny_data_dir, train=False).data[:3].numpy()):
        Image.fromarray(image).save(inputs / f"{i}.png")
    out = tmp_path / "predict"
    result = run_cli(
        f"ckpt_path={ckpt}",
        f"inputs={inputs}",
        "samples=5",
        f"hydra.run.dir={out}",
        script="predict.py",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    reconstructions = sorted(p.name for p in (out / "reconstructions").iterdir())
    assert reconstructions == ["0000_0.png", "0001_1.png", "0002_2.png"]
    assert len(list((out / "samples").iterdir())) == 5
    assert Image.open(out / "samples" / "sample_000.png").size == (28, 28)
    assert not (out / "predictions.csv").exists()


@pytest.mark.parametrize("typed, choice", [(True, "true"), (False, "false"), ("auto", "auto")])
def test_invert_takes_what_the_command_line_gives(typed, choice):
    # `invert=false` on the command line reaches the code as the boolean False.
    assert invert_choice(typed) == choice


def test_invert_refuses_other_values_naming_the_choices():
    with pytest.raises(
        ValueError, match=r"invert='sideways'; use one of \['auto', 'true', 'false'\]"
    ):
        invert_choice("sideways")
