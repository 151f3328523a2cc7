"""Import hygiene: the dependency directions of docs/ARCHITECTURE.md, checked by parsing every
module's imports with ``ast``, and every module importing cleanly in a fresh interpreter."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from typing import Dict, List, Set

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, "miniwdl_aws")


def _module_name(path: str) -> str:
    rel = os.path.relpath(path, ROOT)[: -len(".py")].replace(os.sep, ".")
    return rel[: -len(".__init__")] if rel.endswith(".__init__") else rel


def _modules() -> Dict[str, str]:
    out = {}
    for dirpath, _, files in os.walk(PACKAGE):
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(dirpath, f)
                out[_module_name(path)] = path
    return dict(sorted(out.items()))


MODULES = _modules()


def _imports(module: str) -> Set[str]:
    """Absolute names of everything ``module`` imports (relative imports resolved), including
    imports inside functions and ``TYPE_CHECKING`` blocks."""
    path = MODULES[module]
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    package = module if path.endswith("__init__.py") else module.rsplit(".", 1)[0]
    found: Set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base = ".".join(base_parts[: len(base_parts) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


def _hits(imports: Set[str], forbidden: str) -> List[str]:
    return sorted(i for i in imports if i == forbidden or i.startswith(forbidden + "."))


def _select(prefix: str) -> List[str]:
    return [m for m in MODULES if m == prefix or m.startswith(prefix + ".")]


def test_module_discovery_sees_the_emulator() -> None:
    assert "miniwdl_aws.emulator" in MODULES and "miniwdl_aws._util" in MODULES


@pytest.mark.parametrize("module", _select("miniwdl_aws.emulator"))
def test_emulator_imports_nothing_else_from_the_package(module: str) -> None:
    bad = [
        i
        for i in _imports(module)
        if i.startswith("miniwdl_aws")
        and not (i == "miniwdl_aws.emulator" or i.startswith("miniwdl_aws.emulator."))
    ]
    assert bad == [], f"{module} imports {bad}"


@pytest.mark.parametrize("module", [m for m in MODULES if not m.startswith("miniwdl_aws.emulator")])
def test_production_does_not_import_the_emulator(module: str) -> None:
    assert _hits(_imports(module), "miniwdl_aws.emulator") == []


@pytest.mark.parametrize("module", _select("miniwdl_aws.batch") or ["(none yet)"])
def test_batch_imports_neither_wdl_nor_config(module: str) -> None:
    if module not in MODULES:
        pytest.skip("miniwdl_aws.batch does not exist yet")
    imports = _imports(module)
    assert _hits(imports, "WDL") == [] and _hits(imports, "miniwdl_aws.config") == []


@pytest.mark.parametrize("module", _select("miniwdl_aws.submit") or ["(none yet)"])
def test_submit_does_not_import_backend(module: str) -> None:
    if module not in MODULES:
        pytest.skip("miniwdl_aws.submit does not exist yet")
    assert _hits(_imports(module), "miniwdl_aws.backend") == []


def test_every_module_imports_in_a_fresh_interpreter() -> None:
    code = (
        "import importlib, sys, traceback\n"
        "failed = []\n"
        "for name in sys.argv[1:]:\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except BaseException:\n"
        "        failed.append(name + ': ' + traceback.format_exc().strip().splitlines()[-1])\n"
        "print('\\n'.join(failed))\n"
        "sys.exit(1 if failed else 0)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINIWDL")}
    proc = subprocess.run(
        [sys.executable, "-c", code, *MODULES],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
