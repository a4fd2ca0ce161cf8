"""``hydra/sweeper=resumable_optuna``: Hydra's Optuna sweeper, resumable from its storage.

Hydra's sweeper (1.4.0.dev10) runs ``n_trials`` more trials each time it starts and numbers
their job dirs from 0 again; it also builds its sampler with an argument of Hydra 1.4's
``instantiate`` that Hydra 1.3 lacks. Here the sampler is built with Hydra 1.3, and
``n_trials`` is the size of the whole search: rerun with the same storage and study name, a
search runs only the trials it still lacks, in job dirs numbered after the existing ones, with
a sampler seeded past the trials already drawn (else it would draw the first trials'
parameters again).
"""

# No `from __future__ import annotations`: Hydra loads plugin modules outside sys.modules,
# where dataclasses cannot resolve string annotations.
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.utils import instantiate
from hydra_plugins.hydra_optuna_sweeper._impl import OptunaSweeperImpl
from hydra_plugins.hydra_optuna_sweeper.config import OptunaSweeperConf
from hydra_plugins.hydra_optuna_sweeper.optuna_sweeper import OptunaSweeper
from omegaconf import DictConfig
from typing_extensions import override

log = logging.getLogger(__name__)

# Trials that count towards n_trials, as in Optuna's MaxTrialsCallback.
FINISHED = ("COMPLETE", "PRUNED")


class ResumableOptunaSweeper(OptunaSweeper):
    """An Optuna sweeper whose ``n_trials`` counts the finished trials already in the study.

    A trial left ``RUNNING`` by a stopped search is marked failed when the search starts again,
    and a new trial takes its place.

    Args:
        sampler: the sampler's config (``_target_`` and arguments), built here.
        direction: ``minimize`` or ``maximize`` (a list of them for several objectives).
        storage: Optuna's storage URL; ``None`` keeps the study in memory (nothing to resume).
        study_name: the study's name in ``storage``.
        n_trials: the trials of the whole search, those of earlier attempts included.
        n_jobs: trials handed to the launcher at a time.
        max_failure_rate: the share of a batch's trials that may fail before the sweep stops.
        custom_search_space: dotted path of a callable that adds parameters to each trial.
        params: the search space, ``{override key: sweep expression}``.
    """

    def __init__(
        self,
        sampler: DictConfig,
        direction: Any,
        storage: str | None,
        study_name: str | None,
        n_trials: int,
        n_jobs: int,
        max_failure_rate: float,
        custom_search_space: str | None,
        params: DictConfig | None,
    ) -> None:
        study = _existing_study(storage, study_name)
        drawn = 0 if study is None else len(study.trials)
        finished = 0 if study is None else _count_finished(study)
        if study is not None:
            _fail_stale_trials(study)
            log.info(
                "Study %s has %d finished trials of %d: running %d more",
                study_name,
                finished,
                n_trials,
                max(0, n_trials - finished),
            )
        seed = sampler.get("seed")
        reseeded = {} if seed is None or not drawn else {"seed": seed + drawn}
        self.sweeper = OptunaSweeperImpl(
            instantiate(sampler, **reseeded),
            direction,
            storage,
            study_name,
            max(0, n_trials - finished),
            n_jobs,
            max_failure_rate,
            custom_search_space,
            params,
        )
        self.first_job = drawn

    @override
    def setup(self, **kwargs: Any) -> None:
        super().setup(**kwargs)
        self.sweeper.job_idx = self.first_job  # job dirs go on from the study's trial numbers
        _make_sqlite_dir(self.sweeper.storage)


def _existing_study(storage: str | None, study_name: str | None):
    """The study already in ``storage``, or None (no storage, no file yet, no such study)."""
    if storage is None or not _sqlite_file_exists(storage):
        return None
    import optuna

    try:
        return optuna.load_study(study_name=study_name, storage=storage)
    except KeyError:  # the storage holds other studies only
        return None


def _count_finished(study) -> int:
    return sum(trial.state.name in FINISHED for trial in study.trials)


def _fail_stale_trials(study) -> None:
    """Mark failed the trials a stopped search left running: nothing runs them any more."""
    from optuna.trial import TrialState

    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        log.warning("Trial %d was cut short by a stop: marking it failed", trial.number)
        study.tell(trial.number, state=TrialState.FAIL)


def _sqlite_path(storage: str | None) -> Path | None:
    if storage is None or not str(storage).startswith("sqlite:///"):
        return None
    from sqlalchemy.engine import make_url

    database = make_url(str(storage)).database
    return None if not database or database == ":memory:" else Path(database)


def _sqlite_file_exists(storage: str) -> bool:
    """Whether the storage may hold a study: any non-SQLite URL, or an SQLite file that exists."""
    path = _sqlite_path(storage)
    return path is None or path.is_file()


def _make_sqlite_dir(storage: str | None) -> None:
    """SQLite creates the study's file, not its dir (the sweep dir, made only at launch)."""
    if (path := _sqlite_path(storage)) is not None:
        path.parent.mkdir(parents=True, exist_ok=True)


@dataclass
class ResumableOptunaSweeperConf(OptunaSweeperConf):
    _target_: str = (
        "hydra_plugins.resumable_optuna_sweeper.resumable_optuna_sweeper.ResumableOptunaSweeper"
    )
    # The sampler's config reaches the sweeper unbuilt, so a resumed search can reseed it.
    _recursive_: bool = False


ConfigStore.instance().store(
    group="hydra/sweeper",
    name="resumable_optuna",
    node=ResumableOptunaSweeperConf,
    provider="lenet_vae_lab",
)
