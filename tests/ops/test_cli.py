"""``miniwdl-aws`` errors: one line on stderr, a non-zero exit status, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any, Dict, List

import pytest

MINIWDL_AWS = os.path.join(os.path.dirname(sys.executable), "miniwdl-aws")


def _run(args: List[str], env: Dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [MINIWDL_AWS, *args], env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def env(emulator: Any, stack: Any) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MINIWDL", "AWS_"))}
    env.update(emulator.env())
    return env


CASES = {
    "unknown command": (["bogus"], {}, 2, "invalid choice"),
    "bad number": (["runs", "--since", "soon"], {}, 2, "invalid float value"),
    "bad run id": (["runs", "not/a*run"], {}, 2, "not a run id"),
    # nothing found: exit 1, as grep finding nothing (usage/config/AWS errors are 2)
    "unknown run": (["runs", "mw200101T000000-abcdef"], {}, 1, "no jobs found for run"),
    "no runs in the window": (["runs", "--since", "0.0001"], {}, 1, "no runs in the last"),
    "cleanup of an unknown run": (
        ["cleanup", "mw200101T000000-abcdef", "--wait", "0"],
        {},
        1,
        "no jobs found for run",
    ),
    "logs of an unknown run": (["logs", "mw200101T000000-abcdef"], {}, 1, "no jobs found"),
    "logs: bad run id": (["logs", "../etc"], {}, 2, "not a run id"),
    "runs: --since not positive": (
        ["runs", "--since", "0"],
        {},
        2,
        "--since must be a positive number",
    ),
    "cleanup: --wait negative": (
        ["cleanup", "mw200101T000000-abcdef", "--wait", "-1"],
        {},
        2,
        "--wait must be >= 0",
    ),
    "runs: empty --queue": (["runs", "--queue", ""], {}, 2, "--queue must name a job queue"),
    "no command": ([], {}, 2, "missing COMMAND (doctor, runs, cleanup, logs, report)"),
    "bad config value": (
        ["doctor"],
        {"MINIWDL__AWS__FSAP": "not-an-access-point"},
        2,
        "[aws] fsap (MINIWDL__AWS__FSAP) must be an EFS access point id",
    ),
    "cfg file missing": (["--cfg", "/nonexistent/miniwdl.cfg", "runs"], {}, 2, "no such file"),
    "unknown queue": (["cleanup", "mw200101T000000-abcdef", "--queue", "nope"], {}, 2, "ListJobs"),
    "AWS unreachable": (
        ["runs"],
        {"AWS_ENDPOINT_URL": "http://127.0.0.1:9"},
        2,
        "Could not connect to the endpoint URL",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_one_line_errors(env: Dict[str, str], case: str) -> None:
    args, extra, code, needle = CASES[case]
    done = _run(args, {**env, **extra})
    assert done.returncode == code, done.stdout + done.stderr
    assert needle in done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_help_goes_to_stdout(env: Dict[str, str]) -> None:
    done = _run(["--help"], env)
    assert done.returncode == 0 and "logs" in done.stdout and done.stderr == ""


def test_stdout_closed_early_is_quiet(env: Dict[str, str], stack: Any) -> None:
    """``miniwdl-aws runs --json | head -0``: the reader is gone before anything is written
    (its end of the pipe closed before the command starts, so no timing is involved): exit 141
    as a tool killed by SIGPIPE, nothing on stderr."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [MINIWDL_AWS, "runs", "--json"],
            env=env,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    finally:
        os.close(write_end)
    assert done.returncode == 141, done.stderr
    assert done.stderr == ""


def test_doctor_exit_status_follows_problems(env: Dict[str, str], stack: Any) -> None:
    # the local AWS's stack, like the template without its WorkflowImage parameter, names no
    # workflow image: say which one, as a user must
    env = {**env, "MINIWDL__AWS__WORKFLOW_IMAGE": "miniwdl-aws-workflow:local"}
    ok = _run(["doctor", "--workflow-queue", stack.workflow_queue], env)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.rstrip().endswith("no problems found")
    bad = _run(["doctor", "--workflow-queue", stack.workflow_queue, "--fsap", "fsap-00000000"], env)
    assert bad.returncode == 1
    assert bad.stdout.rstrip().endswith("1 problem(s) found")
    assert bad.stderr == ""
    as_json = _run(
        ["doctor", "--json", "--workflow-queue", stack.workflow_queue, "--fsap", "fsap-00000000"],
        env,
    )
    assert as_json.returncode == 1
    checks = json.loads(as_json.stdout)
    assert [c["name"] for c in checks if c["status"] == "PROBLEM"] == [
        "EFS access point fsap-00000000"
    ]
    assert all(set(c) == {"name", "status", "detail", "fix"} for c in checks)
