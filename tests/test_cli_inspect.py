import json

import pytest

from nas import get_reference

from conftest import run_cli


def test_inspect_json_efficientnet_b0():
    code, out, _ = run_cli("inspect", "--arch", "efficientnet_b0", "--json")
    assert code == 0
    info = json.loads(out)
    assert info["params"] == 5_288_548
    assert abs(info["flops"] - 401.7e6) / 401.7e6 < 0.005
    assert info["resolution"] == 224
    assert info["arch"] == get_reference("efficientnet_b0").arch
    assert sum(s["flops"] for s in info["stages"]) + info["stem"]["flops"] + info["head"]["flops"] == info["flops"]


def test_inspect_table_names_flops_convention():
    code, out, _ = run_cli("inspect", "--arch", "mobilenet_v2", "--resolution", "96", "--analytic")
    assert code == 0
    assert "1 multiply-add = 1 flop" in out
    assert "stage 6" in out and "3,504,872 params" in out


def test_inspect_accepts_genotype_json_file_and_scaling(tmp_path):
    path = tmp_path / "g.json"
    path.write_text(get_reference("efficientnet_b0").to_json())
    code, out, _ = run_cli("inspect", "--arch", str(path), "--width-mult", "1.4", "--depth-mult", "1.8",
                           "--resolution", "380", "--json", "--analytic")
    assert code == 0
    info = json.loads(out)
    assert info["params"] == 19_341_616 and info["resolution"] == 380
    code, out, _ = run_cli("inspect", "--arch", str(path), "--num-classes", "10", "--json", "--analytic")
    assert json.loads(out)["params"] == 5_288_548 - 1281 * 990


def test_inspect_user_errors_exit_2_with_one_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{oops")
    for args in (["--arch", "efficientnet_b9"], ["--arch", str(bad)],
                 ["--arch", str(tmp_path / "missing.json")], ["--arch", "mobilenet_v2", "--width-mult", "-1"]):
        code, _, err = run_cli("inspect", *args)
        assert code == 2, args
        assert err.startswith("error: ") and err.count("\n") == 1, err
    code, _, err = run_cli("inspect")
    assert code == 2 and "--arch" in err


def test_bare_nas_lists_the_commands_and_version_says_which_toolkit():
    code, out, err = run_cli()
    assert code == 2 and "commands:" in out
    for command in ("inspect", "search", "calibrate", "retrain", "scale", "export", "pareto", "studies"):
        assert f"    {command}" in out
    with pytest.raises(SystemExit) as exited:
        run_cli("--version")
    assert exited.value.code == 0


def test_every_commands_help_states_its_defaults():
    from nas.cli import build_parser

    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # noqa: SLF001 - argparse keeps them here
    for name, sub in commands.items():
        for action in sub._actions:  # noqa: SLF001
            if not action.option_strings or action.help == "==SUPPRESS==" or action.dest == "help":
                continue
            assert action.help, f"nas {name} {action.option_strings[0]} has no help text"
            if action.default not in (None, False):
                text = sub.formatter_class("nas")._get_help_string(action)  # noqa: SLF001
                assert "default" in text, f"nas {name} {action.option_strings[0]}: default not stated"


def test_one_flag_chooses_architectures_and_the_old_spellings_still_work(capsys):
    """Issue 33: ``--arch`` in retrain, scale and export; ``--trials`` (retrain), ``--base``
    (scale) and ``--trial`` (export) land in the same place and say what replaced them."""
    from nas.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["retrain", "--study", "s", "--arch", "knee", "3"]).arch == ["knee", "3"]
    assert parser.parse_args(["scale", "--study", "s"]).arch == "knee"
    assert parser.parse_args(["export", "--study", "s", "--out", "o"]).arch == "knee"
    capsys.readouterr()
    for argv, expected, old in ((["retrain", "--study", "s", "--trials", "knee", "front"], ["knee", "front"], "--trials"),
                                (["scale", "--study", "s", "--base", "best"], "best", "--base"),
                                (["export", "--study", "s", "--out", "o", "--trial", "7"], "7", "--trial")):
        assert parser.parse_args(argv).arch == expected
        assert f"{old} is now --arch" in capsys.readouterr().err
    # --trials stays a count where it is one
    assert parser.parse_args(["scale", "--study", "s", "--trials", "4"]).trials == 4
