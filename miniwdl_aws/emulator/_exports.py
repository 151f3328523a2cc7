"""The ``export K=V`` lines ``serve`` prints for shells, and their reader for the programs that
start ``serve`` as a child (the tests' and the benchmarks' launchers): one format, one place."""

from __future__ import annotations

import shlex
from typing import Dict, Iterable, Mapping

__all__ = ["format_exports", "parse_exports"]


def format_exports(values: Mapping[str, str]) -> str:
    """``export K=V`` lines, values shell-quoted."""
    return "".join(f"export {k}={shlex.quote(v)}\n" for k, v in values.items())


def parse_exports(lines: Iterable[str]) -> Dict[str, str]:
    """``{K: V}`` from ``export K=V`` lines (values may be shell-quoted); other lines ignored."""
    out: Dict[str, str] = {}
    for line in lines:
        line = line.strip()
        if not line.startswith("export "):
            continue
        for word in shlex.split(line[len("export ") :]):
            key, eq, value = word.partition("=")
            if eq:
                out[key] = value
    return out
