"""The installed import names: heygem_ops, heygem_flows and heygem_tasks, none of them a generic name.

The source keeps DESIGN.md's folders (flows/, tasks/); pyproject maps them to names of their own,
so installing HeyGem-Ops beside another project with a top-level `flows` or `tasks` breaks neither.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCES = {"heygem_ops": "heygem_ops", "heygem_flows": "flows", "heygem_tasks": "tasks"}  # import name -> folder


def _setuptools() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_source_package_is_installed_under_its_own_name() -> None:
    config = _setuptools()
    assert {name: config["package-dir"].get(name, name) for name in SOURCES} == SOURCES
    found = set()
    for name, folder in SOURCES.items():
        for init in (REPO / folder).rglob("__init__.py"):
            found.add(".".join([name, *init.parent.relative_to(REPO / folder).parts]))
    assert sorted(config["packages"]) == sorted(found)


def test_nothing_imports_the_source_folders_by_their_folder_names() -> None:
    offenders = []
    for path in REPO.glob("[!.]*/**/*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offenders += [f"{path.relative_to(REPO)}: {n}" for n in names if n.split(".")[0] in ("flows", "tasks")]
    assert offenders == []


def test_the_installed_names_resolve_to_the_source_folders_and_the_generic_names_stay_free(tmp_path: Path) -> None:
    code = (
        "import importlib.util as u, heygem_flows.cli, heygem_tasks\n"
        "print(heygem_flows.cli.__file__, heygem_tasks.__file__, u.find_spec('flows'), u.find_spec('tasks'))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    cli, tasks, flows_spec, tasks_spec = out.stdout.split()
    assert Path(cli) == REPO / "flows" / "cli" / "__init__.py" and Path(tasks) == REPO / "tasks" / "__init__.py"
    assert (flows_spec, tasks_spec) == ("None", "None")
