"""The layers of DESIGN.md, enforced: imports point down, and the library runs without Prefect."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# source folder -> top-level import names its modules must not import
FORBIDDEN = {
    "heygem_ops": {"prefect", "prefect_ray", "prefect_dask", "gradio", "heygem_flows", "heygem_tasks"},
    "tasks": {"heygem_flows", "gradio"},
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


def _library_imports(path: Path) -> set[str]:
    """Every heygem_ops module `path` imports, type-only imports included, by module name."""
    parts = path.relative_to(REPO).with_suffix("").parts
    package = parts[:-1]  # what a relative import starts from: the module's package (an __init__'s own)
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package[: len(package) - node.level + 1], base]).strip(".")
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}  # `from package import module`
    return {name for name in found if name == "heygem_ops" or name.startswith("heygem_ops.")}


def _module_graph() -> dict[str, set[str]]:
    modules = {}
    for path in sorted((REPO / "heygem_ops").rglob("*.py")):
        name = ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        modules[name] = path
    return {name: _library_imports(path) & set(modules) - {name} for name, path in modules.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of `graph` as a list of modules, or None (depth-first search)."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_library_has_no_import_cycle():
    """No heygem_ops module reaches itself through imports, counting those under TYPE_CHECKING.

    A package's `__init__` counts as its own module, so the top-level `heygem_ops/__init__.py` (the
    public API, importing the stages) is left out: submodules import siblings, never it.
    """
    graph = _module_graph()
    graph.pop("heygem_ops")
    graph = {name: imports - {"heygem_ops"} for name, imports in graph.items()}
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_cycle_finder_finds_a_type_only_cycle(tmp_path):
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycle(graph) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_compose_depends_only_on_engines_media_face_and_leaves():
    # ...and the template's mouth bank, whose crops compose draws (heygem_ops.mouths: face, media and engine targets)
    allowed = ("heygem_ops.compose", "heygem_ops.engines", "heygem_ops.media", "heygem_ops.face", "heygem_ops.mouths")
    leaves = {"heygem_ops.orders", "heygem_ops.errors", "heygem_ops.logs", "heygem_ops.settings", "heygem_ops.timeline"}
    leaves |= {"heygem_ops.atomic", "heygem_ops.audio", "heygem_ops.cache"}
    # the meter that scores a chunk while it is encoded (QA beside the encode): it needs only face and media
    leaves |= {"heygem_ops.quality", "heygem_ops.quality.chunk", "heygem_ops.quality.pixels"}
    graph = _module_graph()
    outside = {
        name: sorted(i for i in imports if not i.startswith(allowed) and i not in leaves)
        for name, imports in graph.items()
        if name.startswith("heygem_ops.compose")
    }
    assert not {name: found for name, found in outside.items() if found}
