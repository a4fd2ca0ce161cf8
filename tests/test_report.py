"""report.py through its CLI on tiny data: every section and verdict, the page in a real browser,
and a study rebuilt after one of its runs is deleted."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from analysis.claims import OUTCOMES
from tests.conftest import run_cli, tiny_overrides

SECTIONS = [
    "Architectures",
    "Learning curves",
    "Visualization of the layers",
    "Hardest classes",
    "Activations: ReLU against sigmoid",
    "Momentum",
    "VAE: fake images, reconstructions, interpolations",
    "KL weight",
    "How it was made",
]
CLAIMS = [
    "Deeper layers separate the classes better",
    "Classes 2 and 6 (Pullover, Shirt) are hard to distinguish",
    "Sigmoid activations make LeNet's gradients vanish",
    "Momentum in gradient descent greatly speeds up training",
    "A large momentum gives images in one pure colour",
    "A too small KL weight reconstructs well but generates badly",
]
DELETED = "kl_weight/kl_weight-0.1"  # a run no other section shares


def tiny_train_overrides(data_dir: Path) -> str:
    """The tests' tiny-data overrides for every study run; the study places the runs itself."""
    overrides = [
        *(o for o in tiny_overrides(data_dir, Path()) if not o.startswith("paths.")),
        "callbacks.feature_embeddings.num_images=200",
        "callbacks.feature_embeddings.projector=false",
    ]
    return "train_overrides=[" + ",".join(json.dumps(o) for o in overrides) + "]"


def report(study_dir: Path, data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    return run_cli(
        "preset=quick",
        f"study_dir={study_dir}",
        tiny_train_overrides(data_dir),
        *args,
        script="report.py",
        timeout=1800,
    )


@pytest.fixture(scope="module")
def study(tmp_path_factory, tiny_data_dir) -> Path:
    study_dir = tmp_path_factory.mktemp("study")
    result = report(study_dir, tiny_data_dir)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    last_line = result.stdout.strip().splitlines()[-1]
    assert last_line == f"Report: {study_dir / 'report' / 'index.html'}"
    return study_dir


def sections_of(markdown: str) -> dict[str, str]:
    """Section title -> its Markdown text."""
    parts = re.split(r"^## (?:\d+\. )?(.+)$", markdown, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_every_section_and_claim_is_written(study):
    markdown = (study / "report" / "report.md").read_text()
    sections = sections_of(markdown)
    assert list(sections) == ["Claims", *SECTIONS]
    assert "missing:" not in markdown
    verdicts = re.findall(r"^> \*\*\S+ (.+?):\*\* (.+?)  $", markdown, flags=re.MULTILINE)
    assert sorted(claim for _, claim in verdicts) == sorted(CLAIMS)
    assert {outcome.lower() for outcome, _ in verdicts} <= set(OUTCOMES)
    assert markdown.count("> Rule: ") == len(CLAIMS) and markdown.count("> Numbers: ") == len(
        CLAIMS
    )
    for figure in re.findall(r"\]\((figures/[^)]+)\)", markdown):
        assert (study / "report" / figure).stat().st_size > 0
    # Numbers come from the runs' files: the test accuracy of LeNet-5's run, as it recorded it.
    lenet = json.loads((study / "classifiers" / "model-lenet_seed-1" / "metrics.json").read_text())
    assert f"{lenet['test/acc']:.4f} (n=1)" in sections["Learning curves"]
    page = (study / "report" / "index.html").read_text()
    for title in SECTIONS:
        assert html.escape(title) in page


PROBE = """<script>
const errors = [];
window.addEventListener("error", e => errors.push(String(e.target.src || e.message)), true);
window.addEventListener("load", () => {
  document.body.dataset.images = JSON.stringify(
    [...document.images].map(i => [i.getAttribute("src"), i.naturalWidth]));
  document.body.dataset.errors = JSON.stringify(errors);
});
</script>"""


def chromium(*args: str) -> subprocess.CompletedProcess:
    executable = shutil.which("chromium")
    if executable is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    flags = ["--headless=new", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0"]
    return subprocess.run(
        [executable, *flags, "--virtual-time-budget=10000", *args],
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_page_opens_in_a_browser_with_every_image(study, tmp_path):
    report_dir = study / "report"
    page = (report_dir / "index.html").read_text()
    # The page as shipped: no console message at all (it has no scripts and loads no URL).
    plain = chromium("--dump-dom", (report_dir / "index.html").as_uri())
    assert "<h1>" in plain.stdout
    assert "CONSOLE" not in plain.stderr, plain.stderr
    # A copy with a probe reports each image's decoded width and any load error.
    probe = report_dir / "probe.html"
    probe.write_text(page.replace("</body>", PROBE + "</body>"))
    try:
        dom = chromium("--dump-dom", probe.as_uri()).stdout
    finally:
        probe.unlink()
    found = {
        name: json.loads(html.unescape(value))
        for name, value in re.findall(r'data-(images|errors)="([^"]*)"', dom)
    }
    assert found["errors"] == []
    assert len(found["images"]) == page.count("<img ") >= 10
    assert all(width > 0 for _, width in found["images"]), found["images"]
    screenshot = tmp_path / "report.png"
    chromium(
        f"--screenshot={screenshot}",
        "--window-size=1200,3000",
        (report_dir / "index.html").as_uri(),
    )
    assert screenshot.stat().st_size > 10_000


def test_a_deleted_run_is_marked_missing_then_rerun_alone(study, tiny_data_dir):
    """Runs last: it changes the shared study."""
    finished = {p: p.stat().st_mtime_ns for p in study.glob("*/*/metrics.json")}
    shutil.rmtree(study / DELETED)

    rebuilt = report(study, tiny_data_dir, "run_missing=false")
    assert rebuilt.returncode == 0, rebuilt.stderr[-3000:]
    assert not (study / DELETED).exists()  # nothing trained
    sections = sections_of((study / "report" / "report.md").read_text())
    assert f"**missing:** run {DELETED}: not run" in sections["KL weight"]
    assert [title for title, text in sections.items() if "missing:" in text] == ["KL weight"]

    rerun = report(study, tiny_data_dir)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "Running 1 of 8 study jobs" in rerun.stdout
    assert json.loads((study / DELETED / "metrics.json").read_text())["status"] == "completed"
    others = {path: mtime for path, mtime in finished.items() if DELETED not in str(path)}
    assert {path: path.stat().st_mtime_ns for path in others} == others
    assert "missing:" not in (study / "report" / "report.md").read_text()
