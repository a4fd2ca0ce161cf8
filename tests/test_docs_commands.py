"""Every shell command of README.md and docs/*.md runs as written, in a fresh working copy.

Each doc gets its own copy of the project, with tiny data and test-only configs in
``conf/local/`` (the git-ignored group every entry config reads last), so no command's text
changes. Commands run in order, as a user types them after ``source .venv/bin/activate``;
``<name>`` placeholders are filled from what the commands before them made.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from tests.conftest import ROOT
from tests.docs_commands import Command, fill_placeholders, shell_commands, working_copy
from tests.tiny_data import write_idx_dataset, write_image_folder

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
README_MAX_LINES = 250

# Commands that cannot run on a CPU machine without a cluster, by their exact text.
SKIPPED = {
    "make test": "runs this test suite itself",
    "python train.py trainer=ddp": "DDP on every GPU of the machine: needs GPUs",
    "python train.py trainer=ddp trainer.devices=2": "DDP on 2 GPUs: needs GPUs",
    "srun python train.py trainer=ddp trainer.devices=4 trainer.num_nodes=2 "
    "hydra.run.dir=logs/train/runs/slurm_${SLURM_JOB_ID}": "a step of a SLURM batch script",
    "python train.py -m hydra/launcher=submitit_slurm trainer=gpu hydra.launcher.partition=gpu "
    "hydra.launcher.gpus_per_node=1 hydra.launcher.timeout_min=120 model=lenet,small "
    "optimizer.lr=0.1,0.05": "submits SLURM jobs to GPU nodes",
    "python train.py -m hydra/launcher=slurm_ddp trainer=ddp trainer.devices=4 "
    "trainer.num_nodes=2 hydra.launcher.partition=gpu optimizer.lr=0.1,0.05": "submits SLURM "
    "jobs to GPU nodes",
}
# Servers run until stopped: each must print its address, then it is stopped.
SERVERS = ("tensorboard", ".venv/bin/tensorboard")
SERVER_START_S = 90
# What the commands that use a trained model must write, as files newer than the command.
OUTPUTS = {
    "python eval.py": "logs/eval/runs/*/metrics.json",
    "python predict.py": "logs/predict/runs/*/predictions.csv",
}

TINY_DATA = """\
defaults:
  - fashion_mnist
  - _self_

dataset_class:
  path: tests.tiny_data.TinyFashionMNIST
system_dirs: []
download: false
val_size: 100
batch_size: 32
eval_batch_size: 100
"""
# An evaluation on tiny data, drawing fewer points; a training run also trains 2 epochs unless
# its command says otherwise, and runs t-SNE's fewest iterations (the end-of-fit analysis costs
# most of a tiny run); a study trains its runs 2 epochs.
TINY_EVAL = {
    "defaults": [{"override /data": "tiny_fashion_mnist"}],
    "callbacks": {
        "progress_bar": {"mode": "none"},
        "feature_embeddings": {"num_workers": 0, "num_images": 100, "projector": False},
    },
}
TINY_TRAIN = OmegaConf.merge(
    TINY_EVAL,
    {
        "trainer": {"max_epochs": 2},
        "callbacks": {"feature_embeddings": {"projections": {"tsne": {"max_iter": 250}}}},
    },
)
TINY_STUDY = {"preset": {"classifier_epochs": 2, "vae_epochs": 2}}


def write_global_config(path: Path, body) -> None:
    path.write_text("# @package _global_\n" + OmegaConf.to_yaml(body))


def documented_commands() -> list[Command]:
    return [command for doc in DOCS for command in shell_commands(doc, ROOT)]


def tiny_project(dest: Path) -> Path:
    """A working copy of the project whose runs train on tiny data for a few epochs."""
    assert (ROOT / ".venv" / ".installed").exists(), "set up with `make setup` first"
    copy = working_copy(ROOT, dest)
    write_idx_dataset(copy / "data")
    (copy / "data" / "FashionMNIST" / "raw").mkdir(parents=True)
    (copy / "data" / "FashionMNIST" / "raw" / ".ready").touch()  # make's data target is done
    (copy / "conf" / "data" / "tiny_fashion_mnist.yaml").write_text(TINY_DATA)
    local = copy / "conf" / "local"
    local.mkdir()
    write_global_config(local / "train.yaml", TINY_TRAIN)
    write_global_config(local / "eval.yaml", TINY_EVAL)
    write_global_config(local / "report.yaml", TINY_STUDY)
    # README "Your own images": a class folder per class, and loose JPEGs to predict on.
    photos = write_image_folder(copy / "photos", per_class=30, test_per_class=40)
    from PIL import Image

    for png in sorted((photos / "test" / "boot").glob("*.png"))[:3]:
        Image.open(png).convert("RGB").save(photos / f"{png.stem}.jpg")
    return copy


def environment(copy: Path) -> dict[str, str]:
    """The environment of a user who activated the copy's venv."""
    env = {k: v for k, v in os.environ.items() if k not in ("PROJECT_ROOT", "PYTHONPATH")}
    env["PATH"] = f"{copy / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(copy / ".venv")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_server(text: str, copy: Path, env: dict[str, str]) -> tuple[int, str]:
    """Start a server command; 0 once it prints its address, else its exit code or 1."""
    process = subprocess.Popen(
        ["bash", "-c", f"exec {text}"],
        cwd=copy,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    deadline = time.monotonic() + SERVER_START_S
    try:
        for line in process.stdout:
            lines.append(line)
            if "http://" in line:
                return 0, "".join(lines)
            if time.monotonic() > deadline:
                break
        return process.poll() or 1, "".join(lines)
    finally:
        process.kill()
        process.wait()


def run_command(text: str, copy: Path, env: dict[str, str]) -> tuple[int, str]:
    if text.split(" ")[0] in SERVERS:
        return run_server(text, copy, env)
    result = subprocess.run(
        ["bash", "-c", text],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    return result.returncode, result.stdout + result.stderr


def missing_output(text: str, copy: Path, started: float) -> str | None:
    """Why the command wrote less than its docs say, or None."""
    for prefix, pattern in OUTPUTS.items():
        if text.startswith(prefix + " ") and not any(
            path.stat().st_mtime >= started for path in copy.glob(pattern)
        ):
            return f"wrote no {pattern}"
    if text.startswith("python export.py "):
        ckpt = next(w.split("=", 1)[1] for w in text.split() if w.startswith("ckpt_path="))
        output = next((w.split("=", 1)[1] for w in text.split() if w.startswith("output=")), None)
        suffix = ".pt" if "format=torchscript" in text else ".onnx"
        written = copy / (output or str(Path(ckpt).with_suffix(suffix)))
        if not written.is_file() or written.stat().st_mtime < started:
            return f"wrote no {written.relative_to(copy)}"
    return None


def test_readme_stays_a_users_guide():
    # What to run and what comes out; measurements and details belong in docs/.
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= README_MAX_LINES


def test_skipped_commands_are_still_documented():
    documented = {command.text for command in documented_commands()}
    assert set(SKIPPED) <= documented, set(SKIPPED) - documented


@pytest.mark.parametrize("command", sorted(SKIPPED))
def test_documented_command_that_cannot_run_here(command):
    # One line each in pytest's summary, so what the docs test leaves out is never silent.
    pytest.skip(f"not run, {SKIPPED[command]}: {command}")


def test_commands_are_extracted_as_written(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text(
        "```bash\n# a comment\npython train.py a=1   # trailing\n"
        "python eval.py \\\n    ckpt_path=x \\\n    split=val\n"
        "python predict.py inputs='photos/*.jpg'\n```\n"
        "```text\nnot/a/command\n```\n"
    )
    assert [(c.line, c.text) for c in shell_commands(doc, tmp_path)] == [
        (3, "python train.py a=1"),
        (4, "python eval.py ckpt_path=x split=val"),
        (7, "python predict.py inputs='photos/*.jpg'"),
    ]


@pytest.mark.slow
@pytest.mark.parametrize("doc", DOCS, ids=lambda doc: doc.name)
def test_every_command_of_the_doc_runs_as_written(doc, tmp_path):
    commands = shell_commands(doc, ROOT)
    copy = tiny_project(tmp_path / "project")
    env = environment(copy)
    outputs, failures, ran = [], [], []
    for command in commands:
        if command.text in SKIPPED:
            continue
        started = time.time()
        try:
            text = fill_placeholders(command.text, copy, outputs)
        except LookupError as err:
            failures.append(f"{command}\n    {err}")
            continue
        code, output = run_command(text, copy, env)
        outputs.append(output)
        ran.append(command)
        problem = f"exit status {code}" if code else missing_output(text, copy, started)
        if problem:
            failures.append(f"{command}\n    {problem}; its output ends:\n{output[-3000:]}")
    assert ran or not commands, f"{doc.name}: every command was skipped"
    assert not failures, "\n\n".join(failures)
