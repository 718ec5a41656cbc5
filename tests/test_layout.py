"""The package layout shows the data flow, and the code keeps to it.

Layers, lowest first: ``errors``/``units``/``pareto`` -> ``arch`` -> ``model`` -> ``scaling`` ->
``train`` -> ``study`` -> ``report`` -> the command line and the public aliases. Inside ``study``
the wings come first: ``store`` and ``sampling`` (neither imports the other), then ``run``, then
the workloads at the top of ``nas/study``. A module imports only from its own layer or below; no
modules import each other in a cycle; Optuna's private attributes are not used.
"""

import ast
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

NAS = ROOT / "nas"
LAYERS = {"errors": 0, "units": 0, "pareto": 0, "arch": 1, "model": 2, "scaling": 3, "train": 4, "study": 5,
          "report": 6, "cli": 7, "__init__": 7, "__main__": 7, "results": 7, "export": 7}
STUDY_WINGS = {"store": 0, "sampling": 0, "run": 1}  # the workloads at nas/study's top: 2
MAX_LINES = 300


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> tuple[int, int, str]:
    """(layer, rank inside study, wing): study's wings rank below its workloads."""
    parts = module.split(".")
    part = parts[1] if len(parts) > 1 else "__init__"
    if part == "study" and len(parts) > 2:
        wing = parts[2] if parts[2] in STUDY_WINGS else ""
        return LAYERS[part], STUDY_WINGS.get(wing, 2), wing
    return LAYERS[part], 2 if part == "study" else 0, ""


def may_import(source: str, target: str) -> bool:
    (layer, rank, wing), (t_layer, t_rank, t_wing) = layer_of(source), layer_of(target)
    if (t_layer, t_rank) > (layer, rank):
        return False
    return not (t_layer == layer == LAYERS["study"] and t_rank == rank == 0 and t_wing != wing)


def nas_imports(path: Path, module_level_only: bool = False) -> set[str]:
    """Absolute names of the nas modules ``path`` imports (relative imports resolved)."""
    tree = ast.parse(path.read_text())
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    nodes = tree.body if module_level_only else list(ast.walk(tree))
    found = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target == "nas" or target.startswith("nas."):
                found.add(target)
                found |= {f"{target}.{a.name}" for a in node.names if (NAS.parent / (target + "." + a.name).replace(".", "/")).with_suffix(".py").exists()}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("nas.")}
    return found


def modules() -> list[Path]:
    return sorted(p for p in NAS.rglob("*.py"))


def test_each_layer_imports_only_from_its_own_layer_or_below():
    bad = []
    for path in modules():
        source = module_name(path)
        for target in nas_imports(path):
            if target != "nas" and not may_import(source, target):
                bad.append(f"{source} imports {target}")
    assert not bad, "\n".join(bad)


def test_no_import_cycles_between_modules():
    graph = {module_name(p): {t for t in nas_imports(p, module_level_only=True) if t not in ("nas", module_name(p))}
             for p in modules()}
    state: dict[str, int] = {}

    def visit(m: str, stack: list[str]) -> None:
        state[m] = 1
        for t in graph.get(m, ()):
            if state.get(t) == 1:
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(t):] + [t]))
            if t in graph and not state.get(t):
                visit(t, stack + [t])
        state[m] = 2

    for m in graph:
        if not state.get(m):
            visit(m, [m])


def test_no_optuna_private_attributes():
    """``study._storage``, ``trial._trial_id`` and the like: Optuna may change them in any release."""
    private = {"_storage", "_trial_id", "_study_id", "_cached_frozen_trial"}
    used = [f"{p.relative_to(ROOT)}:{node.lineno} .{node.attr}" for p in modules()
            for node in ast.walk(ast.parse(p.read_text()))
            if isinstance(node, ast.Attribute) and node.attr in private
            and not (isinstance(node.value, ast.Name) and node.value.id == "self")]
    assert not used, used


def test_modules_stay_small():
    long = [f"{p.relative_to(ROOT)}: {n}" for p in modules() if (n := len(p.read_text().splitlines())) > MAX_LINES]
    assert not long, long


def test_help_and_import_nas_do_not_import_torch():
    code = ("import sys\nimport nas\nfrom nas.cli import main\nnas.__all__\n"
            "try:\n    main(['search', '--help'])\nexcept SystemExit:\n    pass\n"
            "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "--flops-max" in out.stdout and out.stdout.strip().endswith("NO-TORCH")


def test_public_names_resolve_lazily():
    import nas

    assert nas.build_model is nas.model.builder.build_model
    assert nas.results.trials_frame is nas.report.results.trials_frame
    assert set(nas.__all__) <= set(dir(nas))
