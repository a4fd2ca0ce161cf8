"""Each entry config composes on its own, its Hydra config included, from any directory."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from hydra_app.config_env import CONF_DIR, compose
from tests.conftest import ROOT, run_cli

# The keys each entry point requires (``???`` in its config), as a user gives them.
REQUIRED = {
    "train": [],
    "eval": ["ckpt_path=run/checkpoints/last.ckpt"],
    "predict": ["ckpt_path=run/checkpoints/last.ckpt", "inputs=photos/"],
    "export": ["ckpt_path=run/checkpoints/last.ckpt"],
    "report": [],
}
ENTRY_CONFIGS = sorted(path.stem for path in CONF_DIR.glob("*.yaml"))


def test_every_entry_config_has_an_entry_point():
    assert ENTRY_CONFIGS == sorted(REQUIRED)
    assert all((ROOT / f"{name}.py").is_file() for name in ENTRY_CONFIGS)


@pytest.mark.parametrize("name", ENTRY_CONFIGS)
def test_entry_config_resolves_with_its_hydra_config(name):
    cfg = compose(REQUIRED[name], config_name=name, return_hydra_config=True)
    # The run and sweep dirs are what a key that only train.yaml defines once broke.
    for key in ("hydra.run.dir", "hydra.sweep.dir"):
        assert "${" not in OmegaConf.select(cfg, key), key
    job = OmegaConf.to_container(cfg, resolve=False)
    del job["hydra"]
    job["paths"]["output_dir"] = "run"  # Hydra's run dir, known only at run time
    OmegaConf.resolve(OmegaConf.create(job))


@pytest.mark.parametrize("name", ENTRY_CONFIGS)
@pytest.mark.parametrize("flags", [["--help"], ["--cfg", "job"], ["--cfg", "all", "--resolve"]])
def test_entry_point_answers_from_another_directory(name, flags, tmp_path):
    result = run_cli(*flags, *REQUIRED[name], script=f"{name}.py", cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip()
    if "--resolve" in flags:
        run_dir = OmegaConf.create(result.stdout).hydra.run.dir
        assert "${" not in run_dir and str(ROOT) in run_dir, run_dir
