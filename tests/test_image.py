"""The workflow image: Dockerfile lint, version label, and its install steps exercised without a
Docker engine (build the same wheel, install it with the same pins into a fresh venv, check that
the entry points the submitter relies on resolve)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

import miniwdl_aws

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def _pins() -> dict:
    return dict(re.findall(r"^\s+([A-Za-z0-9_.\-]+)==([^\s\\]+) \\$", DOCKERFILE, re.M))


def test_dockerfile_version_matches_package() -> None:
    assert re.search(r"^ARG VERSION=(\S+)$", DOCKERFILE, re.M).group(1) == miniwdl_aws.__version__


def test_dockerfile_copies_cfg_where_miniwdl_reads_it() -> None:
    dest = re.search(r"^COPY miniwdl-aws.cfg (\S+)$", DOCKERFILE, re.M).group(1)
    assert re.search(rf"MINIWDL_CFG={re.escape(dest)}\b", DOCKERFILE)


def test_hadolint_clean() -> None:
    exe = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(exe).exists():
        pytest.skip("hadolint not installed (it comes with the [test] extra on Linux)")
    proc = subprocess.run([exe, str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_pins_cover_install_requires() -> None:
    pins = {k.lower().replace("_", "-") for k in _pins()}
    for req in ("miniwdl", "boto3", "botocore"):
        assert req in pins


def test_image_install_steps_in_fresh_venv(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--wheel-dir",
            str(wheels),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (whl,) = wheels.glob("miniwdl_aws-*.whl")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    pins = [f"{k}=={v}" for k, v in _pins().items()]
    proc = subprocess.run(
        [str(py), "-m", "pip", "install", "-q", "--no-compile", *pins, str(whl)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    # the pins are complete: nothing beyond them (and our wheel) was installed
    frozen = subprocess.run(
        [str(py), "-m", "pip", "freeze"], capture_output=True, text=True, check=True
    ).stdout
    installed = {ln.split("==")[0].lower() for ln in frozen.split() if "==" in ln}
    assert installed - {"miniwdl-aws", "miniwdl_aws"} <= {k.lower() for k in _pins()}
    check = subprocess.run([str(py), "-m", "pip", "check"], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout
    for script in ("miniwdl", "miniwdl-aws-workflow", "miniwdl_submit_awsbatch"):
        assert (env_dir / "bin" / script).exists(), script
    # the container backend entry point resolves in the image's environment
    probe = (
        "import importlib.metadata as m;"
        "eps={e.name:e for e in m.entry_points(group='miniwdl.plugin.container_backend')};"
        "print(eps['aws_batch_job'].load().__name__)"
    )
    out = subprocess.run([str(py), "-c", probe], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "BatchJob", out.stderr[-2000:]
