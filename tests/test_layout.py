"""The tree shows the architecture: wings import one way, only the pipeline wing touches DVC/GX/MLflow."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from conftest import ROOT

PACKAGE = ROOT / "src" / "agentflan"
MODULES = sorted(p for p in PACKAGE.rglob("*.py"))
# what each wing may import from the package: data flows down, config enters at the bottom
ALLOWED = {
    "config": set(),
    "data": {"config", "data"},
    "demo": {"config", "data", "demo"},
    "training": {"config", "data", "training"},
    "evaluation": {"config", "data", "training", "evaluation"},
    "pipeline": {"config", "data", "training", "evaluation", "pipeline"},
    "cli": {"config", "data", "demo", "training", "evaluation", "pipeline"},
    "__init__": set(),
}
PLUMBING = {"mlflow", "great_expectations", "dvc"}


def wing(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def imports(path: Path) -> set[str]:
    """Every module an import statement of the file names (also inside functions)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("path", MODULES, ids=rel)
def test_imports_flow_down_the_wings(path):
    ours = {m.split(".")[1] for m in imports(path) if m.startswith("agentflan.")}
    assert ours <= ALLOWED[wing(path)], f"{rel(path)} imports {sorted(ours - ALLOWED[wing(path)])} above its wing"


@pytest.mark.parametrize("path", MODULES, ids=rel)
def test_only_the_pipeline_wing_touches_dvc_gx_mlflow(path):
    tops = {m.split(".")[0] for m in imports(path)}
    if wing(path) not in ("pipeline", "cli"):
        assert not tops & PLUMBING, f"{rel(path)} imports {sorted(tops & PLUMBING)}"
    if wing(path) == "data":
        assert not tops & {"torch", "transformers", "accelerate", "peft"}, f"{rel(path)} imports a training library"


@pytest.mark.parametrize("path", MODULES, ids=rel)
def test_every_module_says_what_it_is_for(path):
    doc = ast.get_docstring(ast.parse(path.read_text()))
    assert doc and doc.splitlines()[0].strip(), f"{rel(path)} has no one-line docstring"


def test_no_module_shadows_the_standard_library():
    shadowing = [rel(p) for p in MODULES if p.stem in sys.stdlib_module_names]
    assert not shadowing, f"named like a standard-library module: {shadowing}"
