"""What the executor needs to start and judge one attempt: AWS's reason texts, mount checks
for identity paths, the job's clean environment, output line splitting, and AWS's retry rules.
Pure functions of a job and plain values."""

from __future__ import annotations

import fnmatch
import os
import sys
import tempfile
from typing import Any, Dict, List, Optional

from ._jobs import LocalJob

SPOT_REASON = "Host EC2 (instance i-0123456789abcdef0) terminated."
TIMEOUT_REASON = "Job attempt duration exceeded timeout"
PULL_REASON = (
    "CannotPullContainerError: Error response from daemon: pull access denied for {image}, "
    "repository does not exist or may require 'docker login'"
)
EXITED_REASON = "Essential container in task exited"
OOM_REASON = "OutOfMemoryError: Container killed due to memory usage"
MAX_LINE = 16 * 1024


def split_long(lines: List[bytes]) -> List[bytes]:
    """Cut lines longer than 16 KiB into pieces, as docker's awslogs driver does."""
    out: List[bytes] = []
    for line in lines:
        out.extend(line[i : i + MAX_LINE] for i in range(0, max(len(line), 1), MAX_LINE))
    return out


def mount_problem(job: LocalJob) -> Optional[str]:
    """Why this job's mounts cannot work with identity paths (an AWS-like reason), or None."""
    props = job.container_properties()
    volumes = {v.get("name"): v for v in props.get("volumes") or []}
    for mp in props.get("mountPoints") or []:
        path = mp.get("containerPath") or ""
        vol = volumes.get(mp.get("sourceVolume"), {})
        source = (vol.get("host") or {}).get("sourcePath")
        if source and not os.path.exists(source):
            return (
                "CannotStartContainerError: Error response from daemon: invalid mount config "
                f'for type "bind": bind source path does not exist: {source}'
            )
        if not path or not os.path.isdir(path):
            kind = "EFS" if "efsVolumeConfiguration" in vol else "volume"
            return (
                f"ResourceInitializationError: failed to mount {kind} volume "
                f"{mp.get('sourceVolume')!r}: mount point {path} does not exist on the host "
                "(the emulator uses identical host and container paths)"
            )
    return None


def job_env(job: LocalJob, emulator_env: Dict[str, str]) -> Dict[str, str]:
    """The clean environment of a job attempt (never the emulator's own AWS_*/MINIWDL_*)."""
    env = {
        "PATH": os.path.dirname(sys.executable)
        + os.pathsep
        + os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "TMPDIR": tempfile.gettempdir(),
    }
    for item in job.environment_list():
        env[item["name"]] = item["value"]
    env["AWS_BATCH_JOB_ID"] = job.job_id
    env["AWS_BATCH_JOB_ATTEMPT"] = str(job.attempt_no)
    env["AWS_BATCH_JQ_NAME"] = job.job_queue.name
    if job.ce is not None:
        env["AWS_BATCH_CE_NAME"] = job.ce.name
    if job.array_properties.get("index") is not None:
        env["AWS_BATCH_JOB_ARRAY_INDEX"] = str(job.array_properties["index"])
    env.update(emulator_env)
    return env


def should_retry(
    strategy: Optional[Dict[str, Any]],
    exit_code: Optional[int],
    status_reason: str,
    container_reason: Optional[str],
) -> bool:
    """AWS semantics: the first ``evaluateOnExit`` entry whose given conditions all match
    decides; with no match (or no entries) the job is retried."""
    for rule in (strategy or {}).get("evaluateOnExit") or []:
        checks = [
            ("onExitCode", "" if exit_code is None else str(exit_code)),
            ("onReason", container_reason or ""),
            ("onStatusReason", status_reason or ""),
        ]
        if all(fnmatch.fnmatchcase(value, rule[key]) for key, value in checks if key in rule):
            return str(rule.get("action", "")).upper() == "RETRY"
    return True
