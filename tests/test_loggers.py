"""logger=csv, logger=mlflow and logger=many: what each run leaves in them, read back."""

from __future__ import annotations

import csv
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from hydra_app.config_env import compose
from tests.conftest import run_cli, tiny_overrides
from tests.sweep_runs import metrics
from tests.tensorboard_reading import event_files, logged_hparams

# A float32 metric, stored as a float64 on both sides: equal up to float32's rounding.
FLOAT32_REL = 2**-23
SERVER_START_S = 120


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    """A real ``mlflow server`` on 127.0.0.1, with its own store and artifacts; its URL."""
    store = tmp_path_factory.mktemp("mlflow_server")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "mlflow", "server"),
            *("--host", "127.0.0.1", "--port", str(port), "--workers", "1"),
            *("--backend-store-uri", f"sqlite:///{store / 'mlflow.db'}"),
            *("--artifacts-destination", str(store / "artifacts")),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            assert server.poll() is None, server.stderr.read()[-3000:]
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                assert time.monotonic() < deadline, f"mlflow server gave no answer at {url}"
                time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        try:
            server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.communicate()


@pytest.fixture(scope="module")
def many_run(tiny_data_dir, tmp_path_factory, mlflow_server):
    """A run through the CLI with logger=many, its MLflow run on the test's server."""
    run_dir = tmp_path_factory.mktemp("many") / "run"
    result = run_cli(
        *tiny_overrides(tiny_data_dir, run_dir),
        "logger=many",
        f"logger.mlflow.tracking_uri={mlflow_server}",
        "logger.mlflow.artifact_location=null",  # the server keeps them
        "tags=[logger_test]",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return run_dir


def _mlflow_run(tracking_uri: str, run_dir: Path):
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name("train")
    [run] = client.search_runs([experiment.experiment_id], f"tags.run_dir = '{run_dir}'")
    return client, run


def test_mlflow_has_the_hparams_tab_settings_the_final_metrics_and_the_figures(
    many_run, mlflow_server
):
    client, run = _mlflow_run(mlflow_server, many_run)
    # The same settings as the HParams tab, which holds numbers and bools as floats.
    hparams = logged_hparams(many_run / "tensorboard")
    assert hparams["status"] == "completed" and hparams["tags"] == "logger_test"
    assert run.data.params.keys() == hparams.keys()
    for key, shown in hparams.items():
        param = run.data.params[key]
        assert (float(yaml.safe_load(param)) if isinstance(shown, float) else param) == shown, key
    final = metrics(many_run)
    for key in ("test/acc", "test/loss", "val/acc_best"):
        assert run.data.metrics[f"final/{key}"] == pytest.approx(final[key], rel=FLOAT32_REL)
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"confusion_matrix.png", "learning_curves.png", "embeddings"} <= artifacts
    local = client.download_artifacts(run.info.run_id, "confusion_matrix.png", str(many_run.parent))
    assert Path(local).read_bytes() == (many_run / "confusion_matrix.png").read_bytes()


def test_many_writes_tensorboard_csv_and_mlflow(many_run, mlflow_server):
    [events] = event_files(many_run / "tensorboard")
    assert logged_hparams(events)["status"] == "completed"
    with open(many_run / "csv" / "metrics.csv", newline="") as f:
        columns = set(next(csv.reader(f)))
    assert {"train/loss", "val/acc", "test/acc", "final/test/acc"} <= columns
    _, run = _mlflow_run(mlflow_server, many_run)
    assert {"train/loss", "val/acc", "test/acc"} <= run.data.metrics.keys()


def test_csv_alone_has_every_stage_and_skips_images_once(tiny_data_dir, tmp_path):
    run_dir = tmp_path / "run"
    result = run_cli(*tiny_overrides(tiny_data_dir, run_dir), "logger=csv")
    assert result.returncode == 0, result.stderr[-3000:]

    with open(run_dir / "csv" / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    final = metrics(run_dir)
    [last] = [row for row in rows if row["final/test/acc"]]
    assert float(last["final/test/acc"]) == pytest.approx(final["test/acc"], rel=FLOAT32_REL)
    for column in ("train/loss", "val/loss", "val/acc", "test/acc"):
        assert any(row[column] for row in rows), column
    saved = yaml.safe_load((run_dir / "csv" / "hparams.yaml").read_text())
    assert saved["status"] == "completed" and saved["model"] == "lenet"
    # Without TensorBoard the images are skipped, said once for the run's several image writes.
    log_text = result.stdout + result.stderr
    assert log_text.count("No TensorBoard logger in this run: skipping images") == 1
    assert not (run_dir / "tensorboard").exists()


def test_the_local_mlflow_store_is_under_the_log_dir(tmp_path):
    cfg = compose(["logger=mlflow", f"paths.log_dir={tmp_path}", f"paths.output_dir={tmp_path}"])
    assert cfg.logger.mlflow.tracking_uri == f"sqlite:///{tmp_path}/mlruns/mlflow.db"
    assert cfg.logger.mlflow.artifact_location == f"{tmp_path}/mlruns/artifacts"
    assert set(compose(["logger=many"]).logger) == {"tensorboard", "csv", "mlflow"}
