"""Bad input on the entry points, typed as a user would: 16-bit images, ``invert=true``, file
names that are not UTF-8, ``top_k=0``, a report.py study_dir that holds no study, blank or
degenerate images, and one-line errors (no traceback) for the mistakes a user can fix."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import run_cli
from tests.test_use_model import train_tiny_lenet
from tests.tiny_data import TinyFashionMNIST, write_image_folder

SHORT_ERRORS = {"HYDRA_FULL_ERROR": "0"}  # as a user runs it: no traceback for known errors


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict:
    return train_tiny_lenet(tmp_path_factory.mktemp("bad_input"))


def garment(trained) -> np.ndarray:
    """A test image of the run's data: a light object on black, like Fashion-MNIST."""
    return TinyFashionMNIST(trained["data_dir"], train=False).data[0].numpy()


def predict(trained, inputs: Path, out: Path, *args: str, env=None):
    return run_cli(
        f"ckpt_path={trained['ckpt']}",
        f"inputs={inputs}",
        f"hydra.run.dir={out}",
        *args,
        script="predict.py",
        env=env,
    )


def read_rows(out: Path) -> dict[str, dict]:
    """predictions.csv by file name, names decoded as they were written (surrogateescape)."""
    with open(out / "predictions.csv", encoding="utf-8", errors="surrogateescape") as f:
        return {os.path.basename(row["file"]): row for row in csv.DictReader(f)}


def without_warning(row: dict) -> dict:
    return {key: value for key, value in row.items() if key not in ("file", "warning")}


def test_a_16bit_png_predicts_as_its_8bit_version(trained, tmp_path):
    image = garment(trained)
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    Image.fromarray(image).save(inputs / "8bit.png")
    # v * 257 spans 0..65535 as v spans 0..255: the same picture at 16 bits.
    Image.fromarray(image.astype(np.uint16) * 257).save(inputs / "16bit.png")
    Image.fromarray(np.zeros_like(image)).save(inputs / "blank.png")
    assert Image.open(inputs / "16bit.png").mode == "I;16"
    result = predict(trained, inputs, tmp_path / "out")
    assert result.returncode == 0, result.stderr[-3000:]
    rows = read_rows(tmp_path / "out")
    assert without_warning(rows["16bit.png"]) == without_warning(rows["8bit.png"])
    # Decoded as a blank (clipped to white, then inverted) it would read as the blank does.
    assert without_warning(rows["8bit.png"]) != without_warning(rows["blank.png"])


def every_mode(garment: np.ndarray, folder: Path) -> None:
    """``garment`` (light on pure black) in each image mode Pillow reads, written to ``folder``;
    each decodes to ``garment`` exactly, except ``1bit.png`` (two levels only)."""
    wide = garment.astype(np.uint16) * 257  # v * 257 * 255 / 65535 is v exactly
    Image.fromarray(garment).save(folder / "L.png")
    Image.fromarray(garment >= 128).save(folder / "1bit.png")
    Image.fromarray(wide).save(folder / "I16.png")
    Image.frombytes("I;16B", wide.shape[::-1], wide.astype(">u2").tobytes()).save(
        folder / "I16B.tif"
    )
    big = np.rint(garment.astype(np.float64) * (2**31 - 1) / 255).astype(np.int32)
    Image.fromarray(big).save(folder / "I32.tif")
    Image.fromarray(garment.astype(np.float32) / 255).save(folder / "F.tif")
    (folder / "I16.pgm").write_bytes(  # Pillow opens a 16-bit PGM as "I"
        f"P5 {garment.shape[1]} {garment.shape[0]} 65535\n".encode() + wide.astype(">u2").tobytes()
    )
    Image.fromarray(np.stack([garment] * 3, axis=-1)).save(folder / "RGB.png")
    cmyk = np.stack([np.zeros_like(garment)] * 3 + [255 - garment], axis=-1)
    Image.fromarray(cmyk, mode="CMYK").save(folder / "CMYK.tif")
    grey_palette = [level for i in range(256) for level in (i, i, i)]
    palette = Image.fromarray(garment, mode="P")
    palette.putpalette(grey_palette)
    palette.save(folder / "P.png")
    second = Image.fromarray(255 - garment, mode="P")
    second.putpalette(grey_palette)
    for name in ("animated.gif", "animated.png"):
        palette.save(folder / name, save_all=True, append_images=[second], duration=100)
    # Dark on a transparent page: drawn on white paper, which invert=auto turns black.
    dark, clear = 255 - garment, np.where(garment == 0, 0, 255).astype(np.uint8)
    Image.fromarray(np.stack([dark] * 3 + [clear], axis=-1), mode="RGBA").save(folder / "RGBA.png")
    Image.fromarray(np.stack([dark, clear], axis=-1), mode="LA").save(folder / "LA.png")
    page = Image.fromarray(dark, mode="P")
    page.putpalette(grey_palette)
    page.save(folder / "P_transparent.png", transparency=255)  # the page's entry


def test_every_image_mode_predicts_as_its_8bit_grey_version(trained, tmp_path):
    clean = np.where(garment(trained) >= 100, garment(trained), 0).astype(np.uint8)
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    every_mode(clean, inputs)
    modes = {path.name: Image.open(path).mode for path in inputs.iterdir()}
    assert set(modes.values()) == {
        "L",
        "1",
        "I;16",
        "I;16B",
        "I",
        "F",
        "RGB",
        "CMYK",
        "P",
        "RGBA",
        "LA",
    }
    result = predict(trained, inputs, tmp_path / "out")
    assert result.returncode == 0, result.stderr[-3000:]
    rows = read_rows(tmp_path / "out")
    assert set(rows) == set(modes)
    expected = without_warning(rows["L.png"])
    differ = {name for name, row in rows.items() if without_warning(row) != expected}
    assert differ <= {"1bit.png"}, {name: rows[name] for name in differ}


def test_a_16bit_image_folder_trains_on_the_8bit_pixels(tmp_path):
    root8 = write_image_folder(tmp_path / "photos8", per_class=12, test_per_class=4)
    root16 = tmp_path / "photos16"
    for path in root8.rglob("*.png"):
        target = root16 / path.relative_to(root8)
        target.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.asarray(Image.open(path)).astype(np.uint16) * 257).save(target)
    cache = tmp_path / "cache"
    result = run_cli(
        "data=image_folder",
        f"data.root={root16}",
        f"data.cache_dir={cache}",
        "data.batch_size=16",
        "trainer.accelerator=cpu",
        "trainer.max_epochs=1",
        "callbacks.progress_bar.mode=none",
        "callbacks.feature_embeddings=null",  # t-SNE needs more than 30 test images
        f"hydra.run.dir={tmp_path / 'run'}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (cached,) = cache.glob("*.npz")
    with np.load(cached) as arrays:
        trained_on = arrays["train_images"]
    # The cache holds the images in the folder's sorted order; so does a listing of the 8-bit one.
    originals = [np.asarray(Image.open(p)) for p in sorted((root8 / "train").rglob("*.png"))]
    assert np.array_equal(trained_on[:, 0], np.stack(originals))


@pytest.mark.parametrize("invert", ["true", "false"])
def test_invert_true_and_false_as_typed(trained, tmp_path, invert):
    image = garment(trained)
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    # invert=true on dark-on-light must give what invert=false gives on light-on-dark.
    Image.fromarray(255 - image if invert == "true" else image).save(inputs / "garment.png")
    Image.fromarray(image).save(tmp_path / "reference.png")
    result = predict(trained, inputs, tmp_path / "out", f"invert={invert}")
    assert result.returncode == 0, result.stderr[-3000:]
    reference = predict(trained, tmp_path / "reference.png", tmp_path / "ref", "invert=auto")
    assert reference.returncode == 0, reference.stderr[-3000:]
    assert without_warning(read_rows(tmp_path / "out")["garment.png"]) == without_warning(
        read_rows(tmp_path / "ref")["reference.png"]
    )


def test_a_file_name_that_is_not_utf8_is_written_as_the_file_system_gives_it(trained, tmp_path):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    raw_name = os.path.join(os.fsencode(inputs), b"caf\xe9.png")  # Latin-1, not UTF-8
    Image.fromarray(garment(trained)).save(raw_name)
    Image.fromarray(garment(trained)).save(inputs / "plain.png")
    out = tmp_path / "out"
    result = predict(trained, inputs, out)
    assert result.returncode == 0, result.stderr[-3000:]
    written = (out / "predictions.csv").read_bytes()
    assert raw_name in written and os.fsencode(inputs / "plain.png") in written
    rows = read_rows(out)
    assert os.path.exists(rows[os.fsdecode(b"caf\xe9.png")]["file"])  # the name, exactly
    assert "caf\\xe9.png" in result.stdout  # the console shows the byte it cannot print


@pytest.mark.parametrize("top_k", [0, 11, -1])
def test_top_k_out_of_range_is_refused_before_any_output(trained, tmp_path, top_k):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    Image.fromarray(garment(trained)).save(inputs / "garment.png")
    result = predict(trained, inputs, tmp_path / "out", f"top_k={top_k}", env=SHORT_ERRORS)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"Error: ConfigError: top_k={top_k}: must be an integer in [1, 10], the number of "
        "classes of the checkpoint's model"
    )
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out" / "predictions.csv").exists()


def test_blank_and_degenerate_images_are_flagged(trained, tmp_path):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    Image.fromarray(garment(trained)).save(inputs / "garment.png")
    Image.new("L", (1, 1), 0).save(inputs / "dot.png")
    Image.new("L", (2000, 3), 30).save(inputs / "strip.png")
    noise = np.random.default_rng(0).integers(0, 256, size=(20, 400), dtype=np.uint8)
    Image.fromarray(noise).save(inputs / "banner.png")
    # A white page with a little sensor noise: std ~1 grey level.
    page = 250 + np.random.default_rng(1).integers(-2, 3, size=(300, 200))
    Image.fromarray(page.astype(np.uint8)).save(inputs / "page.jpg", quality=90)
    out = tmp_path / "out"
    result = predict(trained, inputs, out)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = read_rows(out)
    assert list(next(iter(rows.values())))[-1] == "warning"  # the columns before it unchanged
    assert rows["garment.png"]["warning"] == ""
    assert rows["dot.png"]["warning"].startswith("looks blank (pixel std 0.0")
    assert "tiny (1x1 px" in rows["dot.png"]["warning"]
    assert "tiny (2000x3 px" in rows["strip.png"]["warning"]
    assert rows["banner.png"]["warning"] == "extreme aspect ratio (400x20 px, over 8:1)"
    assert rows["page.jpg"]["warning"].startswith("looks blank")
    assert "page.jpg looks blank" in result.stdout  # the log warns as well


def truncated_checkpoint(trained, tmp_path: Path) -> Path:
    path = tmp_path / "truncated.ckpt"
    path.write_bytes(Path(trained["ckpt"]).read_bytes()[:1000])
    return path


def user_error_cases(trained, tmp_path: Path) -> dict[str, tuple[str, list[str], str]]:
    """name -> (script, arguments, what the one line must say)."""
    empty = tmp_path / "empty"
    empty.mkdir()
    unreadable = tmp_path / "unreadable"
    unreadable.mkdir()
    (unreadable / "a.png").write_text("not an image")
    (unreadable / "b.jpg").write_bytes(b"\xff\xd8\xff")
    images = tmp_path / "images"
    images.mkdir()
    Image.fromarray(garment(trained)).save(images / "garment.png")
    ckpt = f"ckpt_path={trained['ckpt']}"
    truncated = truncated_checkpoint(trained, tmp_path)
    missing = tmp_path / "nowhere.ckpt"
    return {
        "no inputs": ("predict.py", [ckpt, f"inputs={empty}"], "NoInputsError: inputs="),
        "all unreadable": (
            "predict.py",
            [ckpt, f"inputs={unreadable}"],
            "NoInputsError: None of the 2 files",
        ),
        "bad invert": (
            "predict.py",
            [ckpt, f"inputs={images}", "invert=sideways"],
            "ConfigError: invert='sideways'; use one of ['auto', 'true', 'false']",
        ),
        "truncated checkpoint, predict": (
            "predict.py",
            [f"ckpt_path={truncated}", f"inputs={images}"],
            f"CheckpointError: ckpt_path={truncated} is truncated or not a checkpoint",
        ),
        "missing checkpoint, eval": (
            "eval.py",
            [f"ckpt_path={missing}"],
            f"CheckpointError: ckpt_path={missing}: no such file",
        ),
        "truncated checkpoint, eval": (
            "eval.py",
            [f"ckpt_path={truncated}"],
            "is truncated or not a checkpoint",
        ),
        "bad format": (
            "export.py",
            [ckpt, "format=tflite"],
            "ConfigError: format='tflite'; use one of ['onnx', 'torchscript']",
        ),
        "truncated checkpoint, export": (
            "export.py",
            [f"ckpt_path={truncated}"],
            "is truncated or not a checkpoint",
        ),
    }


CASES = [
    "no inputs",
    "all unreadable",
    "bad invert",
    "truncated checkpoint, predict",
    "missing checkpoint, eval",
    "truncated checkpoint, eval",
    "bad format",
    "truncated checkpoint, export",
]


@pytest.mark.parametrize("case", CASES)
def test_a_user_error_is_one_line_without_traceback(trained, tmp_path, case):
    script, args, expected = user_error_cases(trained, tmp_path)[case]
    result = run_cli(*args, f"hydra.run.dir={tmp_path / 'out'}", script=script, env=SHORT_ERRORS)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: ") and expected in last, result.stderr[-3000:]


def test_a_required_setting_left_out_is_one_line(tmp_path):
    result = run_cli(
        f"inputs={tmp_path}",
        f"hydra.run.dir={tmp_path / 'out'}",
        script="predict.py",
        env=SHORT_ERRORS,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: MissingMandatoryValue: Missing mandatory value: ckpt_path")


def test_hydra_full_error_shows_the_traceback(trained, tmp_path):
    truncated = truncated_checkpoint(trained, tmp_path)
    result = run_cli(
        f"ckpt_path={truncated}",
        f"hydra.run.dir={tmp_path / 'out'}",
        script="export.py",
        env={"HYDRA_FULL_ERROR": "1"},
    )
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "is truncated or not a checkpoint" in result.stderr


def report(study_dir: Path, *args: str):
    return run_cli(
        "preset=quick",
        f"study_dir={study_dir}",
        "run_missing=false",
        *args,
        script="report.py",
        env=SHORT_ERRORS,
    )


def test_report_refuses_a_dir_that_holds_no_study(trained, tmp_path):
    run_dir = Path(trained["ckpt"]).parents[1]  # a training run's dir
    before = {p.name for p in run_dir.iterdir()}
    result = report(run_dir)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith(
            f"Error: ConfigError: study_dir={run_dir} holds no run of the study (none of its 8 run "
            "dirs such as "
        )
    )
    # Hydra's log of the call (conf/report.yaml: hydra.run.dir is the study_dir); no report/.
    assert {p.name for p in run_dir.iterdir()} - before == {"report.log"}


def test_report_names_a_corrupt_run_record(tmp_path):
    study_dir = tmp_path / "study"
    corrupt = study_dir / "kl_weight" / "kl_weight-0.1" / "metrics.json"
    corrupt.parent.mkdir(parents=True)
    corrupt.write_text('{"status": "compl')
    result = report(study_dir)
    assert result.returncode == 3, result.stderr[-3000:]
    assert f"{corrupt}: Cannot read {corrupt}: JSONDecodeError" in result.stderr
    markdown = (study_dir / "report" / "report.md").read_text()
    assert "**missing:** run kl_weight/kl_weight-0.1: unreadable" in markdown
