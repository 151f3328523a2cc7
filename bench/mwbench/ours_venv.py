"""A lean virtual environment for our side's runner: this repository and its runtime
dependencies only, as the workflow image (``Dockerfile``) installs them.

Why: miniwdl scans the entry points of every installed distribution for each task it runs
(``config.load_plugins``), so the runner's CPU per task grows with what the venv holds. The
README's venv also holds the test and local-AWS extras (pytest, moto and their dependencies,
about 80 distributions against about 30), which made the runner look dearer than it is in the
image. The install is editable, so one venv follows the checkout's work tree.

Default location: ``$MWBENCH_OURS_VENV``, else ``$XDG_CACHE_HOME/miniwdl-aws-bench/venv-ours-lean``
(``~/.cache/...``).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Optional

from .theirs_venv import cached_venv

PROBE = (
    "import importlib.metadata as m, os, miniwdl_aws;"
    " print(len(list(m.distributions())));"
    " print(os.path.dirname(os.path.dirname(os.path.abspath(miniwdl_aws.__file__))))"
)


def default_path() -> Path:
    """Where the lean venv lives unless told otherwise."""
    return cached_venv("MWBENCH_OURS_VENV", "venv-ours-lean")


def probe(bin_dir: Path) -> Optional[tuple]:
    """``(number of installed distributions, checkout its miniwdl_aws comes from)``, or None
    when the venv has no working miniwdl_aws."""
    if not (bin_dir / "miniwdl").exists():
        return None
    out = subprocess.run(
        [str(bin_dir / "python"), "-I", "-c", PROBE], capture_output=True, text=True
    )
    if out.returncode != 0:
        return None
    count, where = out.stdout.split("\n")[:2]
    return int(count), Path(where)


def ensure(venv: Path, checkout: Path, python: str = sys.executable) -> Path:
    """Create (or repair) the lean venv at ``venv`` with ``checkout`` installed editable and
    without extras; returns its ``bin`` directory."""
    found = probe(venv / "bin")
    if found is None or found[1].resolve() != checkout.resolve():
        print(f"[bench] creating the lean runner venv at {venv} ...", file=sys.stderr)
        venv.parent.mkdir(parents=True, exist_ok=True)
        # the base interpreter, not our venv's, so the new venv does not chain to ours
        base = getattr(sys, "_base_executable", python) if python == sys.executable else python
        subprocess.run([base, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", "-e", str(checkout)], check=True
        )
        if probe(venv / "bin") is None:
            raise RuntimeError(f"{venv} has no working miniwdl_aws after installing")
    return venv / "bin"
