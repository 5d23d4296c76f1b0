"""dvc.yaml declares what each stage runs: every module its script imports, directly or through others, and no
other (the `pipeline` wing is listed module by module: changing the CLI's experiments table re-runs nothing)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

from agentflan.config import EXECUTION_ONLY

from conftest import ROOT

SRC = ROOT / "src"


def module_file(name: str) -> Path | None:
    """The file of an `agentflan...` module or package, or None for anything else."""
    if name.split(".")[0] != "agentflan":
        return None
    base = SRC.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_files(path: Path) -> set[Path]:
    """Our modules that running `path` imports (every import statement, also those inside functions)."""
    seen: set[Path] = set()
    todo = [path]
    while todo:
        tree = ast.parse(todo.pop().read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            for name in names:
                parts = name.split(".")
                for i in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__, a/b/__init__, a/b/c
                    f = module_file(".".join(parts[:i]))
                    if f is not None and f not in seen:
                        seen.add(f)
                        todo.append(f)
    return seen


STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


@pytest.mark.parametrize("name", sorted(STAGES))
def test_every_imported_module_is_a_declared_dependency(name):
    stage = STAGES[name]
    script = ROOT / stage["cmd"].split()[-1]
    deps = [ROOT / (d if isinstance(d, str) else next(iter(d))) for d in stage["deps"]]
    assert script in deps, f"{name}: its script {script.relative_to(ROOT)} is not a dependency"
    used = imported_files(script)
    missing = sorted(str(f.relative_to(ROOT)) for f in used if not any(f == d or d in f.parents for d in deps))
    assert not missing, f"{name}: imports modules that dvc.yaml does not list: {missing}"
    code_deps = [d for d in deps if SRC in d.parents and (d.suffix == ".py" or any(d.rglob("*.py")))]
    unused = sorted(str(d.relative_to(ROOT)) for d in code_deps if not any(f == d or d in f.parents for f in used))
    assert not unused, f"{name}: dvc.yaml lists code the stage never imports: {unused}"


def params_read(script: Path) -> set[str]:
    """Dotted params keys a stage script reads through its context (`s.params.train`, `s.params.eval.benchmark`)."""
    tree = ast.parse(script.read_text())
    inner = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Attribute)}  # only whole chains count
    found = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute) or id(node) in inner:
            continue
        chain = []
        while isinstance(node, ast.Attribute):
            chain.append(node.attr)
            node = node.value
        if isinstance(node, ast.Name) and "params" in chain:
            keys = list(reversed(chain[: chain.index("params")]))
            if keys and keys[0] == "model_dump":  # the whole params: every key but how stages run (EXECUTION_ONLY)
                for section, values in yaml.safe_load((ROOT / "params.yaml").read_text()).items():
                    if section in EXECUTION_ONLY:
                        found |= {f"{section}.{k}" for k in values if k not in EXECUTION_ONLY[section]}
                    elif section != "paths":
                        found.add(section)
            elif keys and keys[0] != "paths":  # paths enter dvc.yaml through ${paths.*} interpolation
                found.add(".".join(keys[:2]))
    return found


@pytest.mark.parametrize("name", sorted(STAGES))
def test_every_params_section_a_stage_reads_is_declared(name):
    stage = STAGES[name]
    declared = [p for p in stage.get("params", []) if isinstance(p, str)]
    read = params_read(ROOT / stage["cmd"].split()[-1])
    missing = sorted(k for k in read if not any(k == d or k.startswith(d + ".") for d in declared))
    assert not missing, f"{name}: reads params {missing} that dvc.yaml does not list"


@pytest.mark.parametrize("name", sorted(STAGES))
def test_each_stage_runs_the_code_of_its_own_checkout(name, tmp_path):
    """`dvc exp run --temp` and `dvc queue` run a stage in a copy of the repository: the code it runs must be that
    copy's (the code DVC hashed for it), not the working tree an editable install points at."""
    import shutil
    import subprocess
    import sys

    copy = tmp_path / "copy"
    shutil.copytree(SRC, copy / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    cmd = STAGES[name]["cmd"]
    assert " python stages/" in f" {cmd}", cmd
    prefix = cmd.split("python stages/")[0]  # what the stage's command sets before the interpreter
    probe = f"{prefix}{sys.executable} -c 'import agentflan; print(agentflan.__file__)'"
    found = subprocess.run(["sh", "-c", probe], cwd=copy, capture_output=True, text=True, check=True).stdout.strip()
    assert Path(found).resolve().is_relative_to(copy.resolve()), f"stage {name} imports {found}"
