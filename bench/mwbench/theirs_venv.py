"""The miniwdl-aws 0.12.2 virtual environment: created on demand, outside the repository.

It holds ``miniwdl==1.16.0 miniwdl-aws==0.12.2 awscli`` (0.12.2 shells out to the ``aws`` CLI
for uploads). Default location: ``$MWBENCH_THEIRS_VENV``, else
``$XDG_CACHE_HOME/miniwdl-aws-bench/venv-0.12.2`` (``~/.cache/...``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REQUIREMENTS = ["miniwdl==1.16.0", "miniwdl-aws==0.12.2", "awscli"]


def cached_venv(env_var: str, name: str) -> Path:
    """``$<env_var>`` if set, else ``$XDG_CACHE_HOME/miniwdl-aws-bench/<name>`` (``~/.cache``):
    where the bench keeps a venv of its own, outside the repository."""
    explicit = os.environ.get(env_var)
    if explicit:
        return Path(explicit)
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "miniwdl-aws-bench" / name


def default_path() -> Path:
    """Where the 0.12.2 venv lives unless told otherwise."""
    return cached_venv("MWBENCH_THEIRS_VENV", "venv-0.12.2")


def is_ready(venv: Path) -> bool:
    """The venv has a ``miniwdl`` and the 0.12.2 plugin's metadata."""
    bin_dir = venv / "bin"
    if not (bin_dir / "miniwdl").exists() or not (bin_dir / "aws").exists():
        return False
    probe = subprocess.run(
        [
            str(bin_dir / "python"),
            "-I",  # isolated: a miniwdl_aws.egg-info in the cwd must not answer
            "-c",
            "import importlib.metadata as m; print(m.version('miniwdl-aws'))",
        ],
        capture_output=True,
        text=True,
    )
    return probe.returncode == 0 and probe.stdout.strip() == "0.12.2"


def ensure(venv: Path, python: str = sys.executable) -> Path:
    """Create (or repair) the venv at ``venv``; returns its ``bin`` directory."""
    if not is_ready(venv):
        print(f"[bench] creating the miniwdl-aws 0.12.2 venv at {venv} ...", file=sys.stderr)
        venv.parent.mkdir(parents=True, exist_ok=True)
        # the base interpreter, not our venv's, so the new venv does not chain to ours
        base = getattr(sys, "_base_executable", python) if python == sys.executable else python
        subprocess.run([base, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", *REQUIREMENTS],
            check=True,
        )
        if not is_ready(venv):
            raise RuntimeError(f"{venv} still lacks miniwdl-aws 0.12.2 after installing")
    return venv / "bin"
