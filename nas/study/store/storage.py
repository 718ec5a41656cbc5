"""Opening Optuna storages from what a user types, with clear errors.

Default: a journal file at ``results/<study>/journal.log`` (``results`` is ``$NAS_RESULTS_DIR``
where set, as ``--results-dir`` sets it). ``--storage`` takes any Optuna RDB
URL (``sqlite:///path.db``, ``postgresql://user:pw@host/db``, ...) or a journal file
(``journal:PATH`` or a path ending in ``.log``/``.jsonl``). Studies made before the journal
became the default live in ``results/<study>/study.db`` (SQLite) and are found there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import optuna

from ...errors import UserError
from .records import HEARTBEAT_KEY
from .retrying import DEFAULT_WINDOW, RetryingStorage
from .write_buffer import WriteBuffer

RESULTS_ENV = "NAS_RESULTS_DIR"


def results_dir() -> Path:
    """Where studies keep their files: ``$NAS_RESULTS_DIR`` (``--results-dir`` sets it for the
    command and the worker processes it starts), else ``results`` in the working directory."""
    import os

    return Path(os.environ.get(RESULTS_ENV) or "results")


def study_dir(study_name: str) -> Path:
    return results_dir() / study_name


def retrain_study_name(search_name: str) -> str:
    """Where ``retrain`` keeps its runs: a study beside the search study, in the same storage."""
    return f"{search_name}-retrain"


def default_storage_url(study_name: str) -> str:
    """A new study's storage: a journal file, for one worker as for many. Side by side on the
    demo (``python -m bench.overhead loop``, run 4 of BENCHMARKS.md §2) the loop spent 7.7% of its
    time outside the trainer on a journal file against 8.9% on SQLite (~8 against ~23 ms of
    storage per trial in the storage table there): the journal answers reads from
    its replayed copy in memory, where SQLite queries the file several times a trial. It also
    takes concurrent writers without a server (Optuna advises against SQLite there) and fsyncs
    every append, so that a later ``--workers N`` joins the same file."""
    return f"journal:{study_dir(study_name) / 'journal.log'}"


def resolve_storage_url(url: str | None, study_name: str, workers: int = 1) -> str:
    """The storage a search uses: ``--storage``, else the study's existing file (a journal, or
    SQLite from before the journal was the default), else a new journal file."""
    if url:
        return url
    folder = study_dir(study_name)
    journal, db = folder / "journal.log", folder / "study.db"
    if journal.exists():
        return f"journal:{journal}"
    if db.exists():
        if workers > 1:
            raise UserError(f"study {study_name!r} is stored in SQLite ({db}), which is not safe for "
                            f"{workers} concurrent workers; continue it with --workers 1, or pass "
                            f"--storage with a journal file or a database server")
        return f"sqlite:///{db}"
    folder.mkdir(parents=True, exist_ok=True)
    return default_storage_url(study_name)


JOURNAL_LOCK_GRACE_S = 30  # Optuna's default: a journal lock unchanged this long is a dead writer's


def open_storage(url: str | None, study_name: str, retry_window: float = DEFAULT_WINDOW) -> RetryingStorage:
    """Open ``url`` (or the default journal file), its calls retried through outages for
    ``retry_window`` seconds (``--storage-retry``); any failure is a :class:`UserError`."""
    if url is None:
        study_dir(study_name).mkdir(parents=True, exist_ok=True)
        url = default_storage_url(study_name)
    if url.startswith("journal:") or url.endswith((".log", ".jsonl")):
        path = Path(url.removeprefix("journal:")).expanduser()
        if not path.parent.exists():
            raise UserError(f"--storage {url}: folder {path.parent} does not exist")
        from optuna.storages.journal import JournalFileBackend, JournalFileSymlinkLock, JournalStorage
        # Absolute: Optuna's lock is a symlink to the journal, and it breaks a lock left by a
        # killed writer once the journal has not changed for the grace period, reading the time
        # through that link; a relative link resolves beside itself, to nothing, and the next
        # writer waited forever (a SIGKILLed search's rerun hung in CI).
        absolute = str(path.resolve())
        lock = JournalFileSymlinkLock(absolute, grace_period=JOURNAL_LOCK_GRACE_S)
        try:
            return _wrapped(JournalStorage(JournalFileBackend(absolute, lock_obj=lock)), retry_window)
        except Exception as exc:  # noqa: BLE001
            raise UserError(f"--storage {url}: cannot open journal file ({exc})") from None
    if "://" not in url:
        raise UserError(f"--storage {url!r}: not a storage URL; use sqlite:///FILE.db, "
                        f"postgresql://USER:PASSWORD@HOST/DB, mysql://..., or journal:FILE.log")
    try:
        # pool_pre_ping: after a server restart the pooled connections are dead; test each
        # before use instead of failing the first call on it.
        engine = {} if url.startswith("sqlite") else {"pool_pre_ping": True}
        storage = optuna.storages.RDBStorage(url, heartbeat_interval=None, engine_kwargs=engine)
    except Exception as exc:  # noqa: BLE001 - sqlalchemy raises many kinds
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"--storage {url}: cannot open storage ({type(exc).__name__}: {first})") from None
    if url.startswith("sqlite"):
        _fast_sqlite(storage)
    # The wrapper Optuna itself would put around an RDB storage, inside ours: the study and the
    # toolkit's own writes (heartbeats, stale trials) go through one object.
    return _wrapped(optuna.storages.get_storage(storage), retry_window)


def _wrapped(storage: optuna.storages.BaseStorage, retry_window: float) -> RetryingStorage:
    """Retries outside (a flush is retried whole), the write buffer inside: a trial's writes go
    out in one transaction per save (nas.study.store.write_buffer); heartbeats at once."""
    return RetryingStorage(WriteBuffer(storage, immediate=(HEARTBEAT_KEY,)), window=retry_window)


def _fast_sqlite(storage: optuna.storages.RDBStorage) -> None:
    """WAL journal with synchronous=NORMAL: a commit no longer waits for fsync (each trial makes
    a dozen small writes), while a killed process still loses nothing committed; only an OS
    crash or power loss could drop the last transactions."""
    import sqlalchemy

    def on_connect(dbapi_connection, _record) -> None:  # noqa: ANN001
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    sqlalchemy.event.listen(storage.engine, "connect", on_connect)
    storage.engine.dispose()  # connections made before the listener are replaced


@dataclass
class StudyHandle:
    """A study together with the storage object the toolkit opened it on and that storage's URL.

    Liveness and the loop write trial system attributes and states through the storage's public
    API (trial ids by study id and trial number), never through Optuna's private
    ``study._storage`` or ``trial._trial_id``.
    """

    study: optuna.Study
    storage: optuna.storages.BaseStorage
    url: str | None = None
    _study_id: int | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.study.study_name

    @property
    def study_id(self) -> int:
        if self._study_id is None:
            self._study_id = self.storage.get_study_id_from_name(self.study.study_name)
        return self._study_id

    def trial_id(self, number: int) -> int:
        return self.storage.get_trial_id_from_study_id_trial_number(self.study_id, number)

    @property
    def retry_window(self) -> float:
        """``--storage-retry`` of the storage this study was opened on: the work started from
        this study (workers, retraining, scaling) opens its storages with the same."""
        return float(getattr(self.storage, "window", DEFAULT_WINDOW))


def study_names(storage: optuna.storages.BaseStorage) -> list[str]:
    """The names of the studies in ``storage``, without reading their trials (Optuna's study
    summaries read every trial of every study: 5.4 s against 0.55 s here on a PostgreSQL
    database holding 549 studies)."""
    return [s.study_name for s in storage.get_all_studies()]


def study_exists(storage: optuna.storages.BaseStorage, name: str) -> bool:
    """Whether ``storage`` holds a study called ``name``: one lookup by name, however many
    studies the database holds (a shared PostgreSQL server gathers many)."""
    try:
        storage.get_study_id_from_name(name)
    except KeyError:
        return False
    return True


def load_handle(storage_url: str | None, study_name: str,
                sampler: optuna.samplers.BaseSampler | None = None,
                pruner: optuna.pruners.BasePruner | None = None,
                retry_window: float = DEFAULT_WINDOW) -> StudyHandle:
    """An existing study, or a UserError listing the studies that do exist there."""
    storage = (open_storage(storage_url, study_name, retry_window) if storage_url
               else _existing_default(study_name, retry_window))
    if storage_url is None:
        storage_url = resolve_storage_url(None, study_name)
    if not study_exists(storage, study_name):
        names = study_names(storage)
        raise UserError(f"study {study_name!r} not found in {storage_url or default_storage_url(study_name)}; "
                        f"studies there: {', '.join(names) or 'none'}")
    study = optuna.load_study(study_name=study_name, storage=storage, sampler=sampler, pruner=pruner)
    return StudyHandle(study, storage, storage_url)


def load_study(storage_url: str | None, study_name: str) -> optuna.Study:
    """An existing study, or a UserError listing the studies that do exist there."""
    return load_handle(storage_url, study_name).study


DERIVED_SUFFIXES = ("-retrain", "-scale")  # studies kept beside their search study, in its storage


def _existing_default(study_name: str, retry_window: float = DEFAULT_WINDOW) -> optuna.storages.BaseStorage:
    folder = study_dir(study_name)
    for suffix in DERIVED_SUFFIXES:  # "demo-retrain" lives in demo's file
        base = study_dir(study_name.removesuffix(suffix))
        if study_name.endswith(suffix) and not folder.exists() and (
                (base / "journal.log").exists() or (base / "study.db").exists()):
            folder = base
    if (folder / "journal.log").exists():
        return open_storage(f"journal:{folder / 'journal.log'}", study_name, retry_window)
    if not (folder / "study.db").exists():
        found = sorted({p.parent.name for p in results_dir().glob("*/study.db")}
                       | {p.parent.name for p in results_dir().glob("*/journal.log")})
        raise UserError(f"study {study_name!r} not found: no {folder / 'journal.log'} or study.db; "
                        f"studies in {results_dir()}/: {', '.join(found) or 'none'}")
    return open_storage(f"sqlite:///{folder / 'study.db'}", study_name, retry_window)


def default_storage_urls() -> list[str]:
    """Every study file under results/ (for ``studies``)."""
    return sorted([f"sqlite:///{p}" for p in results_dir().glob("*/study.db")]
                  + [f"journal:{p}" for p in results_dir().glob("*/journal.log")])


def name_objectives(study: optuna.Study, names: list[str]) -> None:
    """Name a study's objectives, so that dashboards show "test_accuracy", not "Objective 0"
    (Optuna calls ``set_metric_names`` experimental; it has been stable in use since 3.2)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names(names)
