"""Fixtures of the submitter's tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def wdl_dir(tmp_path: Path) -> Path:
    """A directory of small WDLs for the tests (outside the EFS stand-in: they get shipped)."""
    d = tmp_path / "wdl"
    d.mkdir()
    (d / "fail.wdl").write_text(
        """version 1.0
workflow failing {
    call boom
}
task boom {
    command <<<
        echo "about to fail" >&2
        exit 3
    >>>
}
"""
    )
    (d / "sleep.wdl").write_text(
        """version 1.0
workflow sleeper {
    call nap
}
task nap {
    command <<<
        sleep 600
    >>>
}
"""
    )
    return d
