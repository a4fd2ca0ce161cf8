"""Run the seed study end to end and write it up; ``python report.py --help`` lists the options.

python report.py                    # the whole study, then <study dir>/report/index.html
python report.py preset=quick       # the same sections in a few minutes
python report.py study_dir=<dir>    # reuse that study's finished runs, run the missing ones
"""

from __future__ import annotations

import logging
import shlex
import sys
import time
from pathlib import Path

import hydra
from omegaconf import DictConfig

from hydra_app import config_env, user_errors

config_env.setup()
log = logging.getLogger(__name__)
# TensorBoard's event reader logs a line per event file it has read to the end.
logging.getLogger("tensorboard").setLevel(logging.WARNING)

REPORT_DIR = "report"
UNREADABLE_EXIT_CODE = 3  # the report is written, but some run records could not be read
TITLE = "LeNet-5, a small LeNet and a convolutional VAE on Fashion-MNIST: the study, reproduced"


def report(cfg: DictConfig, command: str = "") -> tuple[Path, list[str]]:
    """Runs the study's missing jobs (unless ``run_missing=false``), then writes the report;
    returns the path of its ``index.html`` and the run records that could not be read."""
    from study import execute, outline, plan, provenance, render, results
    from study.document import Missing, Section

    study_dir = Path(cfg.study_dir).resolve()
    jobs = plan.plan_jobs(cfg.studies, [*cfg.preset.train_overrides, *cfg.train_overrides])
    dirs = plan.job_dirs(jobs, study_dir)
    timings = {}
    if cfg.run_missing:
        started = time.perf_counter()
        execute.run_jobs(dirs, study_dir, cfg.parallel_jobs, cfg.threads_per_job)
        timings["training, this call (wall)"] = time.perf_counter() - started
    else:
        plan.check_holds_study(dirs, study_dir)

    started = time.perf_counter()
    report_dir = study_dir / REPORT_DIR
    study = results.Study(study_dir, jobs, dirs, cfg.preset, report_dir / "drawn")
    written = []
    for build in outline.SECTIONS:
        try:
            written.append(build(study))
        except Exception as err:  # one broken section must not cost the others
            log.exception("Section %s failed", build.__name__)
            written.append(
                Section(build.__name__.replace("_", " ").capitalize()).add(
                    Missing("this section", f"{type(err).__name__}: {err}")
                )
            )
    timings["writing the report"] = time.perf_counter() - started
    written.append(provenance.how_it_was_made(study, command, timings))
    return render.write_report(TITLE, written, report_dir), results.unreadable_records(study)


@hydra.main(version_base="1.3", config_path="conf", config_name="report")
@user_errors.reported
def main(cfg: DictConfig) -> None:
    command = shlex.join(["python", "report.py", *sys.argv[1:]])
    path, unreadable = report(cfg, command)
    print(f"Report: {path}")
    if unreadable:
        # Marked missing in the report, which the other runs still make worth having; the exit
        # status tells a script that the study is not whole.
        print(
            f"{len(unreadable)} run record(s) could not be read and are marked missing; move "
            "each file away and run report.py without run_missing=false to redo those runs:",
            *unreadable,
            sep="\n  ",
            file=sys.stderr,
        )
        sys.exit(UNREADABLE_EXIT_CODE)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("Interrupted; the same command reuses the finished runs.", file=sys.stderr)
        sys.exit(130)
