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


@pytest.mark.parametrize("module", _select("miniwdl_aws.ops"))
def test_ops_imports_neither_backend_batch_nor_submit(module: str) -> None:
    imports = _imports(module)
    bad = [h for p in ("backend", "batch", "submit") for h in _hits(imports, f"miniwdl_aws.{p}")]
    assert bad == [], f"{module} imports {bad}"


def test_reasons_table_imports_only_the_stdlib() -> None:
    # the one table of AWS's job reasons, shared by batch and ops: it must stay importable by both
    imports = _imports("miniwdl_aws.reasons")
    ours = [i for i in imports if i.split(".")[0] == "miniwdl_aws"]
    assert ours == [] and _hits(imports, "WDL") == [], ours


# --- one AWS call layer: miniwdl_aws.aws (docs/ARCHITECTURE.md) ---

LAYER = "miniwdl_aws.aws"
AWS_SDK = ("boto3", "botocore", "s3transfer")
SERVICES = {"batch", "ec2", "efs", "iam", "logs", "s3", "sts", "sagemaker"}


def _outside_layer() -> List[str]:
    return [
        m
        for m in MODULES
        if not (m == LAYER or m.startswith(LAYER + "."))
        and not m.startswith("miniwdl_aws.emulator")  # the local AWS itself, not a caller
    ]


def _callee(func: ast.expr) -> str:
    """The name a call goes to: ``f`` of ``f(...)``, ``x.f(...)`` and ``f(...)(...)``."""
    if isinstance(func, ast.Call):
        return _callee(func.func)
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _sdk_uses(module: str) -> List[str]:
    """What in ``module`` reaches boto3 directly: SDK imports, ``.client(``/``.resource(``/
    ``.get_paginator(`` calls, and ``<...clients>("<service>")`` calls for a shared client."""
    path = MODULES[module]
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    found = [
        i for i in _imports(module) if i.split(".")[0] in AWS_SDK or i.startswith("mypy_boto3")
    ]
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = _callee(func)
        if isinstance(func, ast.Attribute) and name in ("client", "resource", "get_paginator"):
            found.append(f"line {node.lineno}: .{name}(")
        first = node.args[0] if node.args else None
        if "client" in name.lower() and isinstance(first, ast.Constant) and first.value in SERVICES:
            found.append(f"line {node.lineno}: {name}({first.value!r})")
    return sorted(found)


@pytest.mark.parametrize("module", _outside_layer())
def test_only_the_aws_layer_touches_boto3(module: str) -> None:
    uses = _sdk_uses(module)
    assert uses == [], f"{module} reaches boto3 outside {LAYER}: {uses}"


def test_the_rule_sees_the_layer_itself() -> None:
    # guards the check above against passing vacuously (e.g. a renamed layer)
    assert "boto3" in _sdk_uses("miniwdl_aws.aws.clients")
    assert any(".get_paginator(" in u for u in _sdk_uses("miniwdl_aws.aws.batch"))


@pytest.mark.parametrize("module", _select(LAYER))
def test_aws_layer_imports_only_util_and_errors(module: str) -> None:
    ours = [i for i in _imports(module) if i.split(".")[0] == "miniwdl_aws"]
    allowed = (LAYER, "miniwdl_aws._util", "miniwdl_aws.errors")
    bad = [i for i in ours if not any(i == a or i.startswith(a + ".") for a in allowed)]
    assert bad == [] and _hits(_imports(module), "WDL") == [], f"{module} imports {bad}"


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
