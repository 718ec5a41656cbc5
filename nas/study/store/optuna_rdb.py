"""The fence around Optuna's RDB storage internals: a trial's held writes in one session.

RDBStorage's public calls write one field each, each in its own session that looks the trial up
again (~1 ms each on SQLite here); :func:`write` writes all that a trial holds in one session and
one commit, with Optuna's own models and its own first check of a parameter's distribution.
Everything it reads of Optuna's private modules is checked by :func:`batchable` first: where a
release has moved any of it, ``batchable`` says None and the write buffer writes field by field
through the public API (tests/test_write_buffer.py runs both ways). Tested with Optuna 5.0.
"""

from __future__ import annotations

import json
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, check_distribution_compatibility, distribution_to_json
from optuna.storages import BaseStorage

MODELS = ("TrialModel", "TrialParamModel", "TrialUserAttributeModel", "TrialSystemAttributeModel")


def _internals() -> tuple[Any, Any] | None:  # noqa: ANN401 - Optuna's models module and session factory
    try:
        from optuna.storages._rdb import models
        from optuna.storages._rdb.storage import _create_scoped_session
    except ImportError:
        return None
    if not all(hasattr(models, name) for name in MODELS) or not hasattr(models.TrialModel, "find_or_raise_by_id"):
        return None
    return models, _create_scoped_session


def batchable(storage: BaseStorage) -> optuna.storages.RDBStorage | None:
    """The RDBStorage under ``storage`` (itself, or inside Optuna's cache wrapper) where this
    module can write to it in one session; None otherwise."""
    rdb = getattr(storage, "_backend", storage)  # Optuna wraps RDB storages in its _CachedStorage
    if not isinstance(rdb, optuna.storages.RDBStorage) or _internals() is None:
        return None
    needed = ("scoped_session", "check_trial_is_updatable", "_set_trial_param_without_commit")
    return rdb if all(hasattr(rdb, name) for name in needed) else None


def write(rdb: optuna.storages.RDBStorage, trial_id: int, params: dict[str, tuple[float, BaseDistribution]],
          user_attrs: dict[str, Any], system_attrs: dict[str, Any], checked: dict[str, BaseDistribution]) -> None:
    """One session, one commit: the trial looked up once, its existing attributes read in one
    query, then plain inserts and updates. ``checked``: the distributions already checked against
    the study's (a study's parameter keeps its distribution), which spare a query each."""
    internals = _internals()
    assert internals is not None, "call batchable() first"
    models, scoped_session = internals
    with scoped_session(rdb.scoped_session, True) as session:
        trial = models.TrialModel.find_or_raise_by_id(trial_id, session)
        rdb.check_trial_is_updatable(trial_id, trial.state)
        for name, (value, dist) in params.items():
            if name not in checked:  # the first time: checked against the study's by Optuna
                rdb._set_trial_param_without_commit(session, trial_id, name, value, dist)
                continue
            check_distribution_compatibility(checked[name], dist)
            session.add(models.TrialParamModel(trial_id=trial_id, param_name=name, param_value=value,
                                               distribution_json=distribution_to_json(dist)))
        for model, attrs in ((models.TrialUserAttributeModel, user_attrs),
                             (models.TrialSystemAttributeModel, system_attrs)):
            if not attrs:
                continue
            existing = {a.key: a for a in session.query(model).filter(
                model.trial_id == trial_id, model.key.in_(list(attrs)))}
            for key, value in attrs.items():
                if key in existing:
                    existing[key].value_json = json.dumps(value)
                else:
                    session.add(model(trial_id=trial_id, key=key, value_json=json.dumps(value)))
