"""Start real ``miniwdl run`` subprocesses on the local AWS for the operability tests."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any, Dict, List, Optional, Tuple

WDL_DIR = os.path.join(os.path.dirname(__file__), "wdl")
MINIWDL = os.path.join(os.path.dirname(sys.executable), "miniwdl")

# quick polling and no pause before retries, so runs take seconds on the emulator
FAST_ENV = {
    "MINIWDL__SCHEDULER__CONTAINER_BACKEND": "aws_batch_job",
    "MINIWDL__SCHEDULER__TASK_CONCURRENCY": "100",
    "MINIWDL__AWS__RETRY_WAIT": "0",
    "MINIWDL__AWS__DESCRIBE_PERIOD": "0.25",
    "MINIWDL__AWS__DESCRIBE_PERIOD_MAX": "1",
    "MINIWDL__AWS__TERMINATE_WAIT": "15",
}


def miniwdl_env(
    emulator: Any, stack: Any, extra: Optional[Dict[str, str]] = None
) -> Dict[str, str]:
    """Our environment minus MINIWDL*/AWS_*, plus the emulator's, the stack's and FAST_ENV."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MINIWDL", "AWS_"))}
    env.update(emulator.env())
    env.update(stack.miniwdl_env())
    env.update(FAST_ENV)
    env["MINIWDL__CALL_CACHE__DIR"] = os.path.join(stack.efs_dir, "_call_cache")
    env.update(extra or {})
    return env


def start(
    emulator: Any,
    stack: Any,
    wdl: str,
    inputs: List[str],
    run_name: str,
    extra_env: Optional[Dict[str, str]] = None,
) -> Tuple[subprocess.Popen[str], str]:
    """``miniwdl run`` in the background, in its own session; the process and its run dir."""
    run_dir = os.path.join(stack.efs_dir, run_name)
    cmd = [MINIWDL, "run", os.path.join(WDL_DIR, wdl), *inputs, "--dir", run_dir + "/."]
    proc = subprocess.Popen(
        cmd,
        env=miniwdl_env(emulator, stack, extra_env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=stack.efs_dir,
        start_new_session=True,
    )
    return proc, run_dir


def run(
    emulator: Any,
    stack: Any,
    wdl: str,
    inputs: List[str],
    run_name: str,
    extra_env: Optional[Dict[str, str]] = None,
    timeout: float = 180,
) -> Tuple[int, str, str]:
    """``miniwdl run`` to completion: (exit code, run dir, stderr). The timeout is a hang guard."""
    proc, run_dir = start(emulator, stack, wdl, inputs, run_name, extra_env)
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        raise AssertionError(f"miniwdl run hung:\n{err[-4000:]}") from None
    return proc.returncode, run_dir, err
