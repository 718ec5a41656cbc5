"""``search --signal``: what candidates are ranked by, given or followed from a calibration."""

from __future__ import annotations

import argparse
import sys

from ..errors import UserError


def signal_of(args: argparse.Namespace) -> tuple[str | None, float | None]:
    """``--signal``: a signal (and its budget, where given), or ``auto``: the one the calibration
    of this space and dataset recommended (nas.report.calibration), else the default (None: the
    search's default, nas.study.search_config)."""
    from ..train.signals import DEFAULT_SIGNAL, parse_signal

    if args.signal is None:
        if args.calibration:
            raise UserError("--calibration goes with --signal auto")
        return None, None
    if args.signal != "auto":
        if args.calibration:
            raise UserError("--calibration goes with --signal auto")
        return parse_signal(args.signal)
    from ..report.calibration import CalibrationRecord
    from ..study.calibrate_config import default_study_name
    from ..study.store.storage import load_handle

    name = args.calibration or default_study_name(args.space, args.dataset)
    try:
        study = load_handle(args.storage, name).study
    except UserError:
        if args.calibration:
            raise UserError(f"--calibration {name!r}: no such calibration study (run `nas calibrate --space "
                            f"{args.space} --dataset {args.dataset}` first)") from None
        print(f"--signal auto: no calibration {name!r} (see `nas calibrate`); ranking by the default "
              f"({DEFAULT_SIGNAL}; validation accuracy with successive halving or the reward mode)", file=sys.stderr)
        return None, None
    record = CalibrationRecord.from_study(study)
    settings = study.user_attrs.get("calibration_settings", {})
    if record is None:
        raise UserError(f"calibration {name!r} has not finished; rerun `nas calibrate` to complete it")
    if (settings.get("space"), settings.get("dataset")) != (args.space, args.dataset):
        raise UserError(f"calibration {name!r} was made for --space {settings.get('space')} --dataset "
                        f"{settings.get('dataset')}, not this search's")
    print(f"--signal auto: {record.signal}" + (f" after {record.budget_epochs:g} epochs" if record.budget_epochs else
                                                " at initialisation")
          + f" (calibration {name!r}: tau {record.tau:+.2f} against long training)", file=sys.stderr)
    return record.signal, record.budget_epochs
