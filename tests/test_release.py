"""The release automation: one GitHub Actions workflow that builds the workflow image from the
Dockerfile and pushes it for a tagged version. It cannot run here, so it is linted against the
GitHub workflow schema (check-jsonschema's vendored copy, no network) and its few promises are
checked."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "release.yml"


def _lint(path: Path) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows"]
    return subprocess.run(cmd + [str(path)], capture_output=True, text=True, timeout=120)


def test_release_workflow_is_valid(tmp_path: Path) -> None:
    res = _lint(WORKFLOW)
    assert res.returncode == 0, res.stdout + res.stderr
    # the linter does refuse a broken workflow (no runner for the job)
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("runs-on: ubuntu-latest", "runs_on: x"))
    assert _lint(broken).returncode != 0


def test_release_builds_the_dockerfile_for_version_tags() -> None:
    doc = yaml.safe_load(WORKFLOW.read_text())
    triggers = doc.get("on", doc.get(True))  # YAML 1.1 reads a bare `on` key as True
    assert triggers == {"push": {"tags": ["v*"]}}
    steps = doc["jobs"]["image"]["steps"]
    build = next(s for s in steps if str(s.get("uses", "")).startswith("docker/build-push"))
    assert build["with"]["context"] == "." and build["with"]["push"] is True
    assert re.search(r"miniwdl-aws:\$\{\{ github.ref_name \}\}$", build["with"]["tags"])
    assert (ROOT / "Dockerfile").is_file()
    # the version check reads the same __version__ as setup.py
    check = next(s for s in steps if "version" in s.get("name", ""))
    assert "miniwdl_aws/__init__.py" in check["run"]
