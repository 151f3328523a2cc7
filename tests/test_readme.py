"""The README's two set-up commands are the ones CI and users run."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _setup_commands() -> list:
    return re.findall(r"^    \$ (.+)$", (ROOT / "README.md").read_text(), re.M)


def test_readme_has_exactly_two_setup_commands() -> None:
    cmds = _setup_commands()
    assert len(cmds) == 2, cmds
    assert all(c.startswith("python3 -m venv .venv && ") for c in cmds)
    assert "[local]" in cmds[0] and "examples/demo.py" in cmds[0]
    assert "[test]" in cmds[1] and "pytest" in cmds[1]


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert ci == _setup_commands()[1]


def test_demo_script_exists() -> None:
    assert (ROOT / "examples" / "demo.py").is_file()
