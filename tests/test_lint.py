"""The code standards are checked by the suite, not by memory: ruff (lint + format) on the
repository and mypy on the package."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


@pytest.mark.parametrize(
    "cmd",
    [["ruff", "check", "."], ["ruff", "format", "--check", "."], ["mypy"]],
    ids=["ruff-check", "ruff-format", "mypy"],
)
def test_clean(cmd: list) -> None:
    exe = BIN / cmd[0]
    if not exe.exists():
        pytest.skip(f"{cmd[0]} not installed (it comes with the [test] extra)")
    proc = subprocess.run([str(exe), *cmd[1:]], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
