"""WDL sources used by the scenarios, their expected outputs, and the ``miniwdl run`` driver.

Expected outputs are computed from the inputs (never hard-coded), so a scenario proves the run
produced every task's own result, not merely that it exited 0.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Optional, Sequence

from tests.support.miniwdl import MiniwdlRun
from tests.support.miniwdl import start_miniwdl as _start_miniwdl

from .harness import LocalAws

SCATTER_WDL = """\
version 1.0

workflow scat {
  input {
    Int n
    Int sleep_s = 0
    Int preemptible = 2
  }
  scatter (i in range(n)) {
    call work { input: i = i, sleep_s = sleep_s, preemptible = preemptible }
  }
  output {
    Array[String] results = work.result
    Array[File] files = work.result_file
  }
}

task work {
  input {
    Int i
    Int sleep_s
    Int preemptible
  }
  command <<<
    set -e
    sleep ~{sleep_s}
    echo "work ~{i} attempt ${MINIWDL_TASK_ATTEMPT:-?}" >&2
    echo "result-~{i}" > result.txt
  >>>
  output {
    String result = read_string("result.txt")
    File result_file = "result.txt"
  }
  runtime {
    docker: "ubuntu:22.04"
    cpu: 1
    memory: "1G"
    preemptible: preemptible
    maxRetries: 0
  }
}
"""


def scatter_expected(n: int) -> List[str]:
    """The ``results`` output of :data:`SCATTER_WDL` for ``n`` tasks."""
    return [f"result-{i}" for i in range(n)]


def write(path: str, text: str) -> str:
    """Write ``text`` to ``path`` (creating folders) and return the path."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    return path


def runner_env(aws: LocalAws, concurrency: int = 64, **aws_options: Any) -> Dict[str, str]:
    """Environment for ``miniwdl run`` with the aws_batch_job backend on the local AWS.

    Only the test knob ``retry_wait=0`` departs from product defaults (its 20 s default would
    dominate the retry scenarios); keyword arguments set further ``[aws]`` options.
    """
    env = aws.env()
    env.setdefault("MINIWDL__FILE_IO__ROOT", aws.efs_dir)
    env["MINIWDL__SCHEDULER__CONTAINER_BACKEND"] = "aws_batch_job"
    env["MINIWDL__SCHEDULER__TASK_CONCURRENCY"] = str(concurrency)
    env["MINIWDL__AWS__RETRY_WAIT"] = "0"
    env["NO_COLOR"] = "1"
    for key, value in aws_options.items():
        text = json.dumps(value) if isinstance(value, (dict, list)) else str(value)
        env[f"MINIWDL__AWS__{key.upper()}"] = text
    return env


def run_dir(aws: LocalAws, name: str) -> str:
    """A run directory under the EFS stand-in (miniwdl requires it under ``[file_io] root``)."""
    return os.path.join(aws.efs_dir, "runs", name)


def start_miniwdl(
    aws: LocalAws,
    name: str,
    wdl: str,
    inputs: Sequence[str],
    env: Dict[str, str],
    extra: Sequence[str] = (),
) -> MiniwdlRun:
    """Start ``miniwdl run`` on a WDL source text (:mod:`tests.support.miniwdl`); the run
    directory is :func:`run_dir`, its output goes to ``<workdir>/<name>/miniwdl.stdout|stderr``."""
    from miniwdl_aws.naming import new_run_id

    work = os.path.join(aws.workdir, name)
    os.makedirs(work, exist_ok=True)
    wdl_path = write(os.path.join(work, "wf.wdl"), wdl)
    # a known run id: every job of this run is then found by its name prefix
    env = dict(env)
    env.setdefault("MINIWDL__AWS__RUN_ID", new_run_id())
    return _start_miniwdl(wdl_path, inputs, run_dir(aws, name), env, work, ["--no-color", *extra])


def outputs(aws: LocalAws, name: str) -> Optional[Dict[str, Any]]:
    """The run's ``outputs.json`` (its ``outputs`` object), or None if it has none."""
    path = os.path.join(run_dir(aws, name), "outputs.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        doc = json.load(f)
    return doc.get("outputs", doc)


def failed_calls(aws: LocalAws, name: str) -> List[str]:
    """Call directories holding an ``error.json`` that is not a mere termination (a sibling
    failed first): the tasks that failed on their own."""
    root = run_dir(aws, name)
    out: List[str] = []
    for dirpath, _dirs, files in os.walk(root):
        if "error.json" in files and dirpath != root:
            with open(os.path.join(dirpath, "error.json")) as f:
                error = json.load(f).get("error", "")
            if error != "Terminated":
                out.append(os.path.relpath(dirpath, root))
    return sorted(out)
