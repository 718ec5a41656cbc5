"""The package layout shows the data flow, and the code keeps to it.

Layers, lowest first: ``errors``/``units``/``pareto`` -> ``arch`` -> ``model`` -> ``scaling`` ->
``train`` -> ``study`` -> ``report`` -> the command line and the public aliases. Inside ``study``
the wings come first: ``store`` and ``sampling`` (neither imports the other), then ``run``, then
the workloads at the top of ``nas/study``. A module imports only from its own layer or below; no
modules import each other in a cycle; Optuna's private names are used only inside the fences
(OPTUNA_FENCES).
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


# The fences around Optuna's internals: one small module per mechanism, each checking what it
# reads before use and falling back to Optuna's public path (tested both ways). No other module
# may touch a private Optuna name.
OPTUNA_FENCES = {
    "nas/study/store/optuna_rdb.py": "a trial's writes in one RDB session",
    "nas/study/store/optuna_journal.py": "a trial's writes as one journal batch",
    "nas/study/sampling/lean_gp.py": "GP's acquisition search settings, its search and function mode",
    "nas/study/sampling/lean_ehvi.py": "GP's EHVI computed with less work",
    "nas/study/sampling/lean_tpe.py": "TPE's parameter conversion done once per trial",
    "nas/study/sampling/ordinal_view.py": "the samplers' view of ordered choices stored as values",
    "nas/study/sampling/rung_view.py": "the rung a halving proposal was fit on, written from the sampler",
}


def our_private_names() -> set[str]:
    """Underscored names the toolkit defines itself (functions, classes, attributes it assigns)."""
    names: set[str] = set()
    for path in modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
    return {n for n in names if n.startswith("_") and not n.startswith("__")}


def optuna_private_uses(path: Path, ours: set[str]) -> list[str]:
    """Where ``path`` uses a private name of Optuna's: an import from an underscored module or of
    an underscored name, an underscored attribute or string that the toolkit does not define, or
    an override of an underscored method in a subclass of an Optuna class."""
    tree = ast.parse(path.read_text())
    from_optuna: dict[str, str] = {}  # local name -> its Optuna module
    other_modules = {a.asname or a.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                     for a in node.names if a.name.split(".")[0] != "optuna"}
    other_modules |= {a.asname or a.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                      and node.level == 0 and (node.module or "").split(".")[0] not in ("optuna", "nas")
                      for a in node.names}
    uses = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "optuna":
            from_optuna |= {a.asname or a.name: f"{node.module}.{a.name}" for a in node.names}
            if any(part.startswith("_") for part in node.module.split(".")) or \
                    any(a.name.startswith("_") for a in node.names):
                uses.append(f"{node.lineno}: from {node.module} import ...")
        elif isinstance(node, ast.Import):
            uses += [f"{node.lineno}: import {a.name}" for a in node.names
                     if a.name.split(".")[0] == "optuna" and any(p.startswith("_") for p in a.name.split("."))]
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__") \
                and node.attr not in ours and _root(node) not in other_modules:  # torch._C, argparse._...: not Optuna
            uses.append(f"{node.lineno}: .{node.attr}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("_") \
                and node.value.isidentifier() and not node.value.startswith("__") and node.value not in ours:
            uses.append(f"{node.lineno}: {node.value!r}")
    for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
        bases = [_optuna_object(from_optuna.get(b.id) if isinstance(b, ast.Name) else ast.unparse(b))
                 for b in cls.bases]
        uses += [f"{f.lineno}: overrides {cls.name}.{f.name}" for f in cls.body
                 if isinstance(f, ast.FunctionDef) and f.name.startswith("_") and not f.name.startswith("__")
                 and any(base is not None and hasattr(base, f.name) for base in bases)]
    return uses


def _optuna_object(dotted: str | None) -> object | None:
    """The Optuna object ``dotted`` names (``optuna.samplers.GPSampler``), or None."""
    import importlib

    if not dotted or dotted.split(".")[0] != "optuna":
        return None
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            found = getattr(found, name, None)
        return found
    return None


def _root(node: ast.AST) -> str | None:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def test_optuna_private_names_only_inside_their_fences():
    """``study._storage``, ``optuna._gp``, a private method overridden: Optuna may change them in
    any release, so each such use sits in its mechanism's fence (OPTUNA_FENCES), and the fences
    are the modules that use them (an entry no longer needed is dropped)."""
    ours = our_private_names()
    found = {str(p.relative_to(ROOT)): uses for p in modules() if (uses := optuna_private_uses(p, ours))}
    outside = {path: uses for path, uses in found.items() if path not in OPTUNA_FENCES}
    assert not outside, outside
    assert set(found) == set(OPTUNA_FENCES), set(OPTUNA_FENCES) - set(found)


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
