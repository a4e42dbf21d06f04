"""The subsidies app's modules import downwards only: no module, at load time, imports one that
imports it back (directly or through others). Celery tasks call into the run; the run reaches
the tasks only when it queues a message. Checked on the source (module-level imports), and by
importing each module first in a fresh interpreter."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = ("accounts", "regions", "residents", "facilities", "visits", "subsidies", "dashboards")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _project_modules() -> dict[str, Path]:
    return {
        _module_name(path): path
        for app in APPS
        for path in (ROOT / app).rglob("*.py")
        if "migrations" not in path.parts
    }


def _load_time_imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules a module imports when it is loaded (not those imported inside a
    function, nor under TYPE_CHECKING)."""
    found = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found |= {name for name in names if name in modules}
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    cycles, state = [], {}

    def visit(module, stack):
        state[module] = "open"
        stack.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                cycles.append(stack[stack.index(target) :] + [target])
            elif target not in state:
                visit(target, stack)
        stack.pop()
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [])
    return cycles


def test_no_module_of_the_project_imports_itself_back_at_load_time():
    modules = _project_modules()
    graph = {name: _load_time_imports(path, modules) - {name} for name, path in modules.items()}
    assert _cycles(graph) == []


def test_the_run_does_not_import_the_tasks_at_load_time():
    modules = _project_modules()
    for name, path in modules.items():
        if name.startswith("subsidies.") and name != "subsidies.tasks":
            assert "subsidies.tasks" not in _load_time_imports(path, modules), name


# Where a process starts: the worker (tasks), each part of the run, the other services, the
# edges, and the registry's death, which calls the subsidies' handler.
ENTRY_MODULES = [
    "subsidies.tasks",
    "subsidies.run.planning",
    "subsidies.run.chunks",
    "subsidies.run.finishing",
    "subsidies.batches",
    "subsidies.exports",
    "subsidies.grants",
    "subsidies.schedules",
    "subsidies.admin",
    "subsidies.api.views",
    "residents.services",
]


@pytest.mark.parametrize("module", ENTRY_MODULES)
def test_each_module_imports_first_in_a_fresh_interpreter(module):
    code = f"import django; django.setup(); import {module}"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
