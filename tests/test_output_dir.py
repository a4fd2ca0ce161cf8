"""An unwritable output dir or a nearly full disk stops the run before training starts."""

from __future__ import annotations

import pytest

from tests.conftest import run_cli, tiny_overrides
from training.preflight import OutputDirError, check_output_dir


@pytest.fixture
def unwritable_dir(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    return blocker / "run"  # nobody, root included, can create a dir below a file


def test_unwritable_output_dir_is_named_with_the_fix(unwritable_dir):
    with pytest.raises(OutputDirError) as err:
        check_output_dir(unwritable_dir, min_free_mb=0)
    assert str(unwritable_dir) in str(err.value) and "hydra.run.dir=<dir>" in str(err.value)


def test_too_little_free_space_is_reported(tmp_path):
    with pytest.raises(
        OutputDirError,
        match=r"MB free on the disk of the output dir .*min_free_disk_mb=1000000000000000 ",
    ):
        check_output_dir(tmp_path, min_free_mb=10**15)
    check_output_dir(tmp_path, min_free_mb=1)


def test_cli_stops_before_training_on_an_unwritable_output_dir(
    tiny_data_dir, tmp_path, unwritable_dir
):
    result = run_cli(
        *tiny_overrides(tiny_data_dir, unwritable_dir), f"hydra.run.dir={tmp_path}/hydra"
    )
    assert result.returncode != 0
    assert f"OutputDirError: Cannot write to the output dir {unwritable_dir}" in result.stderr
