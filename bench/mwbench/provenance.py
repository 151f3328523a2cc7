"""Which code a recorded run measured: the repository's commit and whether its work tree had
uncommitted changes (then the run cannot be reproduced from the commit alone)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

UNKNOWN = "unknown"
_MAX_PATHS = 100  # paths kept in the raw file (the count is always exact)


def _git(repo: Path, *args: str) -> Optional[str]:
    try:
        proc = subprocess.run(
            ["git", *args], cwd=repo, capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout if proc.returncode == 0 else None


@dataclass(frozen=True)
class GitState:
    """``git rev-parse --short HEAD`` and the entries of ``git status --porcelain``."""

    commit: str = UNKNOWN
    dirty_files: int = 0
    dirty_paths: List[str] = field(default_factory=list)

    @property
    def known(self) -> bool:
        """The commit could be read (the harness ran from a git work tree)."""
        return self.commit != UNKNOWN

    @property
    def dirty(self) -> bool:
        """The work tree had uncommitted (or untracked) files."""
        return self.dirty_files > 0

    def label(self) -> str:
        """``commit abc1234``, or with the dirty count and ``DIRTY (not reproducible)``."""
        if not self.known:
            return "commit unknown (not a git work tree), not reproducible"
        if not self.dirty:
            return f"commit {self.commit}"
        files = "file" if self.dirty_files == 1 else "files"
        return (
            f"commit {self.commit} + {self.dirty_files} uncommitted {files},"
            " DIRTY (not reproducible)"
        )

    def to_dict(self) -> Dict[str, Any]:
        """JSON-able form (``dirty`` spelled out for readers of the raw file)."""
        return {
            "commit": self.commit,
            "dirty": self.dirty,
            "dirty_files": self.dirty_files,
            "dirty_paths": list(self.dirty_paths),
        }

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> GitState:
        """Inverse of :meth:`to_dict`."""
        return cls(
            commit=str(d.get("commit") or UNKNOWN),
            dirty_files=int(d.get("dirty_files", 0)),
            dirty_paths=[str(p) for p in d.get("dirty_paths", [])],
        )


def git_state(repo: Path) -> GitState:
    """The commit checked out in ``repo`` and its uncommitted files (``UNKNOWN`` without git)."""
    head = _git(repo, "rev-parse", "--short", "HEAD")
    if head is None or not head.strip():
        return GitState()
    status = _git(repo, "status", "--porcelain")
    if status is None:  # cannot tell: do not claim the tree was clean
        return GitState(commit=head.strip(), dirty_files=1, dirty_paths=["(git status failed)"])
    lines = [line for line in status.splitlines() if line.strip()]
    return GitState(
        commit=head.strip(),
        dirty_files=len(lines),
        dirty_paths=[line[3:] for line in lines[:_MAX_PATHS]],
    )
