"""The layers of DESIGN.md, enforced: imports point down, and the library runs without Prefect."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "heygem_ops": {"prefect", "prefect_ray", "prefect_dask", "gradio", "flows", "tasks"},
    "tasks": {"flows", "gradio"},
}
RAY_HOMES = {"heygem_ops/ray_host.py"}  # the model-hosting module, the only library home of Ray


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_imports_point_down(layer):
    offenders = {}
    for path in sorted((REPO / layer).rglob("*.py")):
        bad = _imports(path) & FORBIDDEN[layer]
        if layer == "heygem_ops" and "ray" in _imports(path) and str(path.relative_to(REPO)) not in RAY_HOMES:
            bad.add("ray")
        if bad:
            offenders[str(path.relative_to(REPO))] = sorted(bad)
    assert not offenders


def test_library_import_pulls_in_no_orchestration():
    code = "import sys, heygem_ops; print(sorted(m for m in ('prefect', 'ray', 'gradio', 'dask') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "[]"
