"""docs/ARCHITECTURE.md is true: its module table is the import contract, checked here against
every import (module-level and inside functions) of every module of the package.

Each row names a module or package and, in "may import", the parts of ``miniwdl_aws`` it may use
(anything after "**not" is forbidden). A module may always import within its own row.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Dict, List, Set, Tuple

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "miniwdl_aws"


def _rows() -> Dict[str, Set[str]]:
    """``{row module: allowed row modules}`` from the table."""
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    rows: Dict[str, Set[str]] = {}
    for line in text.splitlines():
        m = re.match(r"^\| `miniwdl_aws/([\w/.]+?)(?:\.py|/)?` \|.*\| (.*) \|$", line)
        if m:
            allowed = m.group(2).split("**not")[0]
            rows[m.group(1).replace("/", ".")] = set(re.findall(r"`([\w.]+)`", allowed))
    return rows


def _row_of(module: str, rows: Dict[str, Set[str]]) -> str:
    """The row a dotted module (below ``miniwdl_aws``) belongs to."""
    parts = module.split(".")
    for i in range(len(parts), 0, -1):
        if ".".join(parts[:i]) in rows:
            return ".".join(parts[:i])
    return ""


def _internal_imports(path: Path) -> List[Tuple[int, str]]:
    """``(line, module below miniwdl_aws)`` of every import of the package in ``path``."""
    rel = path.relative_to(PKG).with_suffix("")
    here = list(rel.parts[:-1]) if rel.name != "__init__" else list(rel.parts[:-1])
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
                names = [mod] if node.module else [".".join(base + [a.name]) for a in node.names]
            elif (node.module or "").startswith("miniwdl_aws"):
                names = [node.module[len("miniwdl_aws") :].lstrip(".")]  # type: ignore[index]
            else:
                continue
            found += [(node.lineno, n) for n in names if n]
        elif isinstance(node, ast.Import):
            found += [
                (node.lineno, a.name[len("miniwdl_aws.") :])
                for a in node.names
                if a.name.startswith("miniwdl_aws.")
            ]
    return found


def test_the_table_covers_every_module() -> None:
    rows = _rows()
    assert len(rows) >= 10, rows
    for path in PKG.rglob("*.py"):
        rel = ".".join(path.relative_to(PKG).with_suffix("").parts)
        if rel in ("__init__", "__main__"):
            continue
        assert _row_of(rel, rows), f"docs/ARCHITECTURE.md has no row for miniwdl_aws/{rel}"


def test_every_import_is_allowed_by_the_table() -> None:
    rows = _rows()
    bad = []
    for path in PKG.rglob("*.py"):
        rel = ".".join(path.relative_to(PKG).with_suffix("").parts)
        mine = _row_of(rel, rows)
        if not mine:
            continue
        for line, target in _internal_imports(path):
            theirs = _row_of(target, rows)
            if theirs and theirs != mine and theirs not in rows[mine]:
                bad.append(f"miniwdl_aws/{path.relative_to(PKG)}:{line} imports {target}")
    assert not bad, "imports docs/ARCHITECTURE.md does not allow:\n" + "\n".join(bad)
