"""Creating or resuming a search study: what it records about itself, the checks that refuse to
mix a resumed study with other settings, and the dataset (with its test split) it was made on."""

from __future__ import annotations

import platform
import time

import optuna
import torch

from ..arch.genotype import Genotype
from ..arch.space import ENCODINGS, PARAM_ENCODING, SearchSpace
from ..arch.space_file import load_space
from ..errors import UserError
from ..model.cost import FLOPS_CONVENTION, space_min_cost
from ..model.memory import largest_genotype
from ..train.config import DEFAULT_TEST_FRACTION
from ..train.devices import check_device
from ..train.data import Dataset
from ..train.device_data import data_config
from ..train.sources import load_dataset
from ..units import human
from .store.records import RECORD_WRITTEN, StudyRecord, TrialRecord
from ..train.rungs import Rungs
from .sampling.samplers import make_pruner, sampler_seed
from .budgets import OBJECTIVES, REWARD_ON
from .run.group_size import group_on
from .run.placement import dataset_bytes, gpu_ids_in_use
from .search_config import SearchConfig
from .store.storage import StudyHandle, name_objectives, open_storage, resolve_storage_url, study_exists


def study_record(cfg: SearchConfig, space: SearchSpace, data: Dataset) -> StudyRecord:
    return StudyRecord(
        command=cfg.command, space_name=space.name, space_source=space.source, space_text=space.text,
        dataset=cfg.dataset, dataset_summary=data.describe(), seed=cfg.seed, sampler=cfg.sampler,
        objectives=cfg.objective_names,
        param_encoding=PARAM_ENCODING, train_config=cfg.train, flops_max=cfg.flops_max,
        params_max=cfg.params_max, flops_target=cfg.flops_target, reward_exponent=cfg.reward_exponent,
        reward_on=cfg.reward_on if cfg.reward_mode else None, latency_target_ms=cfg.latency_target_ms,
        latency_max_ms=cfg.latency_max_ms,
        latency=cfg.latency_settings().describe() if cfg.measures_latency else None,
        latency_on=cfg.latency_on if cfg.measures_latency else None,
        latency_batch=cfg.latency_batch if cfg.measures_latency else None,
        val_fraction=cfg.val_fraction, test_fraction=cfg.test_fraction, test_split=data.test_split,
        in_channels=data.in_channels, num_classes=data.num_classes,
        flops_convention=FLOPS_CONVENTION, torch=torch.__version__, optuna=optuna.__version__,
        python=platform.python_version(),
        fidelity=cfg.fidelity, signal=cfg.signal, data_config=data_config(data, space.resolutions[0]))


def study_dataset(record: StudyRecord, with_test: bool = False) -> Dataset:
    """The dataset (and splits) a study was searched on, for every later command.

    ``with_test=True`` (final training) also loads the held-out test split, after checking that
    it is the one the study recorded: same way of making it, same images (fingerprint).
    """
    if not with_test:
        return load_dataset(record.dataset, record.val_fraction, record.seed,
                            test_fraction=record.test_fraction or DEFAULT_TEST_FRACTION)
    if record.test_fraction is None or record.test_split is None:
        raise UserError(f"this study was searched before held-out test splits existed (its train and "
                        f"validation splits used every image of {record.dataset!r}); run the search "
                        f"again under a new --study name to score on held-out data")
    data = load_dataset(record.dataset, record.val_fraction, record.seed,
                        test_fraction=record.test_fraction, with_test=True)
    if data.test_split != record.test_split:
        raise UserError(f"dataset {record.dataset!r} changed since the search: its test split is now "
                        f"'{data.test_split}', the study recorded '{record.test_split}'")
    return data


def open_study(cfg: SearchConfig, space: SearchSpace, data: Dataset) -> StudyHandle:
    """Create the study, or load it after checking that it was made with the same settings."""
    storage = open_storage(cfg.storage, cfg.study, cfg.storage_retry)
    directions = ["maximize"] + ["minimize"] * (cfg.n_objectives - 1)
    pruner = make_pruner(cfg.pruner)
    if study_exists(storage, cfg.study):
        return _join(cfg, space, directions, storage, pruner)
    try:
        study = optuna.create_study(study_name=cfg.study, storage=storage, directions=directions,
                                    sampler=cfg.make_sampler(cfg.seed), pruner=pruner)
    except optuna.exceptions.DuplicatedStudyError:  # another process created it a moment ago
        return _join(cfg, space, directions, storage, pruner)
    record = study_record(cfg, space, data)
    record.write(study)
    name_objectives(study, record.objectives)
    if cfg.seed_archs:
        for g in space.reference_genotypes(data.in_channels, data.num_classes):
            study.enqueue_trial(space.params_for(g), user_attrs=TrialRecord(reference=g.name).to_attrs(),
                                skip_if_exists=True)
    return StudyHandle(study, storage, cfg.storage)


def _join(cfg: SearchConfig, space: SearchSpace, directions: list[str], storage: optuna.storages.BaseStorage,
          pruner: optuna.pruners.BasePruner) -> StudyHandle:
    """Load an existing study; its sampler is seeded for a joining process (``sampler_seed``)."""
    study = optuna.load_study(study_name=cfg.study, storage=storage, pruner=pruner)
    # Several hosts or workers started at once: the creator may still be writing the study's
    # record (one attribute at a time); a study without trials waits for it (30 s at most; an old
    # study made before the marker existed is then checked as it is).
    deadline = time.time() + 30
    while RECORD_WRITTEN not in study.user_attrs and not study.get_trials(deepcopy=False) and time.time() < deadline:
        time.sleep(0.2)
    _check_resumable(study, cfg, space, directions)
    existing = len(study.get_trials(deepcopy=False))
    study.sampler = cfg.make_sampler(sampler_seed(cfg.seed, 0, existing, joined=True))
    return StudyHandle(study, storage, cfg.storage)


def _check_resumable(study: optuna.Study, cfg: SearchConfig, space: SearchSpace, directions: list[str]) -> None:
    rec = StudyRecord.from_study(study)
    if rec.signal != cfg.signal and not cfg.reward_mode:
        raise UserError(f"study {cfg.study!r} was searched ranking candidates by {rec.signal}; resume it with "
                        f"--signal {rec.signal}, or use another --study name")
    if [d.name.lower() for d in study.directions] != directions or rec.objectives != cfg.objective_names:
        raise UserError(f"study {cfg.study!r} exists with objectives {rec.objectives}; "
                        f"use another --study name for a different objective")
    if cfg.reward_mode and (rec.reward_on or "flops", rec.flops_target, rec.latency_target_ms) != (
            cfg.reward_on, cfg.flops_target, cfg.latency_target_ms):
        raise UserError(f"study {cfg.study!r} was searched with the reward on {rec.reward_on or 'flops'} "
                        f"(target {rec.reward_target()}); resume it with those settings, or use another --study name")
    if rec.param_encoding not in ENCODINGS:
        raise UserError(f"study {cfg.study!r} was made by an earlier version of this toolkit "
                        f"(parameter encoding {rec.param_encoding!r}; this version resumes "
                        f"{', '.join(map(repr, ENCODINGS))}); "
                        f"use another --study name")
    if rec.space_text not in (None, space.text):
        raise UserError(f"study {cfg.study!r} was made with a different search space "
                        f"({rec.space_source}); use another --study name")
    wanted = cfg.fidelity
    if rec.fidelity != wanted:
        def say(f: Rungs | None) -> str:
            return ("single fidelity" if f is None else
                    f"successive halving (--min-epochs {f.min_epochs:g} --max-epochs {f.max_epochs:g} "
                    f"--eta {f.eta:g} --screen {f.screen or 'none'})")
        raise UserError(f"study {cfg.study!r} was searched with {say(rec.fidelity)}, not {say(wanted)}; "
                        f"use those settings to resume it, or another --study name")
    if "dataset" in study.user_attrs and rec.dataset != cfg.dataset:
        raise UserError(f"study {cfg.study!r} was made on dataset {rec.dataset!r}; use another --study name")


def check_budget(cfg: SearchConfig, space: SearchSpace, data: Dataset) -> None:
    """Refuse, before any training, a budget that no genotype in the space can meet."""
    if cfg.flops_max is None and cfg.params_max is None:
        return
    min_params, min_flops = space_min_cost(space, data.in_channels, data.num_classes)
    if cfg.flops_max is not None and min_flops > cfg.flops_max:
        raise UserError(f"--flops-max {human(cfg.flops_max)} is impossible: the smallest architecture "
                        f"in {space.source} needs {human(min_flops)} FLOPs ({FLOPS_CONVENTION})")
    if cfg.params_max is not None and min_params > cfg.params_max:
        raise UserError(f"--params-max {human(cfg.params_max)} is impossible: the smallest "
                        f"architecture in {space.source} has {human(min_params)} parameters")


def check_latency_setup(cfg: SearchConfig) -> None:
    """Latency is measured only where it can be trusted: the runtime is there, and no other
    worker of this search trains on the cores (or the GPU) being timed."""
    cfg.latency_settings().check()
    if cfg.workers > 1:
        raise UserError(f"measured latency (--latency-max or --objectives with latency) with --workers "
                        f"{cfg.workers}: the other workers' training would "
                        f"share the {'GPU' if cfg.latency_on == 'torch-cuda' else 'CPU cores'} being timed "
                        f"and distort every latency; use --workers 1")


def prepare(cfg: SearchConfig) -> tuple[SearchSpace, Dataset, StudyHandle]:
    """Check what needs the data, the space or the runtime (the settings alone were checked when
    ``cfg`` was made: SearchConfig.__post_init__), then create or load the study (before any worker)."""
    check_device(cfg.device)  # before the study is created
    if cfg.measures_latency:
        check_latency_setup(cfg)
    space = load_space(cfg.space)
    data = load_dataset(cfg.dataset, cfg.val_fraction, cfg.seed, test_fraction=cfg.test_fraction)
    check_budget(cfg, space, data)
    resolve_group(cfg, space, data)
    cfg.storage = resolve_storage_url(cfg.storage, cfg.study, cfg.workers)
    return space, data, open_study(cfg, space, data)


def resolve_group(cfg: SearchConfig, space: SearchSpace, data: Dataset) -> None:
    """``--group``: checked against each GPU in use, ``auto`` resolved (nas.study.run.group_size)."""
    if cfg.group == 1:
        return
    ids = gpu_ids_in_use(cfg.device, cfg.devices)
    cfg.group = group_on(cfg.group, [f"cuda:{i}" for i in ids] if ids else ["cpu"],
                         lambda: [largest_genotype(space, data.in_channels, data.num_classes)], cfg.train.batch_size,
                         lambda: dataset_bytes(data.at_resolution(max(space.resolutions))))


def study_references(study: optuna.Study) -> list[Genotype]:
    """The hand-designed reference architectures of the space a study searched, built for its
    data (channels, classes), from the space text the study recorded (the file may have changed)."""
    import yaml

    from ..arch.space_file import parse_space

    record = StudyRecord.from_study(study)
    if record.space_text:
        space = parse_space(yaml.safe_load(record.space_text), record.space_source or "the study's space",
                            record.space_text)
    else:
        space = load_space(record.space_source or "mobile")
    refs = space.reference_genotypes(record.in_channels, record.num_classes)
    if not refs:
        raise UserError(f"the space of study {study.study_name!r} ({space.source}) names no reference_archs")
    return refs
