"""The in-job wrapper as a real process, with a stand-in `miniwdl` on PATH (unit level: the
end-to-end tests run the real miniwdl on the local AWS)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import Any, List

import pytest

from miniwdl_aws.submit import END_OF_LOG, shipping

FAKE_MINIWDL = """#!/bin/sh
# stand-in for `miniwdl run`: records its arguments, then behaves as $FAKE_MODE says
echo "$@" > "$FAKE_ARGS"
[ -n "$FAKE_CAT" ] && cat "$2" > "$FAKE_CAT"
case "$FAKE_MODE" in
  exit) echo '{"error": "CommandFailed"}'; exit 5 ;;
  wait)
    trap 'echo "fake miniwdl: got TERM" >&2; echo "{}"; exit 7' TERM
    echo "fake miniwdl: started" >&2
    while true; do sleep 0.05; done ;;
esac
"""


def _wrapper(tmp_path: Any, mode: str, args: List[str], **env: str) -> subprocess.Popen:
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    fake = bindir / "miniwdl"
    fake.write_text(FAKE_MINIWDL)
    fake.chmod(0o755)
    full_env = dict(os.environ)
    full_env.update(
        PATH=f"{bindir}{os.pathsep}{os.environ['PATH']}",
        FAKE_MODE=mode,
        FAKE_ARGS=str(tmp_path / "args.txt"),
        MINIWDL__FILE_IO__ROOT=str(tmp_path),  # the submitter always sets the mount
    )
    full_env.update(env)
    cmd = [sys.executable, "-m", "miniwdl_aws.submit.wrapper", "--dir", str(tmp_path / "runs")]
    return subprocess.Popen(
        cmd + args, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_exit_code_mirrored_and_marker_is_the_last_line(tmp_path: Any) -> None:
    p = _wrapper(tmp_path, "exit", ["--wdl", "/x/wf.wdl", "--", "a=1", "--verbose"])
    out, err = p.communicate(timeout=60)
    assert p.returncode == 5
    assert out == ""  # one stream (stderr), so the log keeps the order of lines
    assert err.rstrip("\n").splitlines()[-1] == END_OF_LOG
    assert '{"error": "CommandFailed"}' in err
    args = (tmp_path / "args.txt").read_text().split()
    assert args[:5] == ["run", "/x/wf.wdl", "a=1", "--verbose", "--dir"]
    assert "--error-json" in args
    # miniwdl runs inside a new directory of this run's own, named by its run id
    homes = os.listdir(tmp_path / "runs")
    assert (
        len(homes) == 1 and homes[0].startswith("mw") and args[5] == f"{tmp_path}/runs/{homes[0]}/"
    )


def test_the_run_directory_must_be_inside_the_mount(tmp_path: Any) -> None:
    p = _wrapper(tmp_path, "exit", ["--wdl", "/x/wf.wdl", "--"], MINIWDL__FILE_IO__ROOT="/")
    _, err = p.communicate(timeout=60)
    assert p.returncode == 2 and "set MINIWDL__FILE_IO__ROOT" in err
    assert not (tmp_path / "args.txt").exists()  # miniwdl never started


@pytest.mark.timeout(60)
def test_sigterm_is_forwarded_to_miniwdl(tmp_path: Any) -> None:
    p = _wrapper(tmp_path, "wait", ["--wdl", "/x/wf.wdl", "--"])
    assert p.stderr is not None
    seen = []
    for line in p.stderr:  # wait until the child is really running
        seen.append(line)
        if "fake miniwdl: started" in line:
            break
    p.send_signal(signal.SIGTERM)
    rest = p.stderr.read()
    p.wait(timeout=60)
    assert p.returncode == 7
    assert "fake miniwdl: got TERM" in rest
    assert rest.rstrip("\n").splitlines()[-1] == END_OF_LOG


def test_shipped_zip_is_materialized_for_miniwdl(tmp_path: Any) -> None:
    p = _wrapper(
        tmp_path,
        "exit",
        ["--wdl-zip", "env:" + shipping.ENV_WDL_ZIP, "--"],
        **{shipping.ENV_WDL_ZIP: shipping.encode(b"PK-zip-bytes"), "FAKE_CAT": str(tmp_path / "c")},
    )
    p.communicate(timeout=60)
    assert (tmp_path / "c").read_bytes() == b"PK-zip-bytes"


def test_setup_error_is_reported_with_marker(tmp_path: Any) -> None:
    p = _wrapper(tmp_path, "exit", ["--wdl-zip", "env:NOT_SET", "--"])
    _, err = p.communicate(timeout=60)
    assert p.returncode == 2
    assert "NOT_SET" in err and err.rstrip("\n").splitlines()[-1] == END_OF_LOG
    assert not (tmp_path / "args.txt").exists()  # miniwdl never started
