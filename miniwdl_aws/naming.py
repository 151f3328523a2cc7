"""Names, tags and environment variables shared by the backend, the submitter and run tools.

Every Batch job that miniwdl-aws starts belongs to one *run*, identified by a short run id that
prefixes its job name and is stored in its tags. That is what lets ``ListJobs`` (which can filter
on a job-name prefix) and the cleanup tools find every job of a run, even after the process that
started them was killed.
"""

from __future__ import annotations

import os
import re
import secrets
import time
from typing import Optional

# Batch: "up to 128 letters (uppercase and lowercase), numbers, hyphens, and underscores";
# the first character must be alphanumeric.
JOB_NAME_MAX = 128
_JOB_NAME_BAD = re.compile(r"[^A-Za-z0-9_-]+")

# Tag keys set on every job (with propagateTags, they reach the ECS tasks too).
TAG_RUN_ID = "MiniwdlRunId"
TAG_WORKFLOW = "MiniwdlWorkflow"
TAG_CALL = "MiniwdlCall"
TAG_ATTEMPT = "MiniwdlAttempt"
TAG_ROLE = "MiniwdlRole"  # "workflow" or "task"
TAG_PARENT_JOB_ID = "AWS_BATCH_PARENT_JOB_ID"

# Environment variables.
# The run id of a runner process: the [aws] run_id option, which the submitter sets for its
# workflow job (read through miniwdl's config loader, so miniwdl never calls it unused).
ENV_RUN_ID = "MINIWDL__AWS__RUN_ID"
ENV_JOB_RUN_ID = "MINIWDL_AWS_RUN_ID"  # inside task containers: the run id of their run
ENV_TASK_RUN_ID = "MINIWDL_TASK_RUN_ID"  # inside task containers: miniwdl's run id of the task
ENV_TASK_ATTEMPT = "MINIWDL_TASK_ATTEMPT"  # inside task containers: miniwdl's try number (1-based)

_RUN_ID_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")
# What new_run_id() generates, recognisable at the start of a job name without its tags.
_GENERATED_RUN_ID = re.compile(r"^(mw\d{6}T\d{6}-[0-9a-f]{6})-")


def is_valid_run_id(run_id: str) -> bool:
    """Whether ``run_id`` can be a run id: a job-name-safe prefix of at most 40 characters (so a
    ``JOB_NAME`` filter on it is safe)."""
    return bool(_RUN_ID_OK.match(run_id or ""))


def generated_run_id_in(job_name: str) -> Optional[str]:
    """The run id :func:`new_run_id` generated that prefixes ``job_name``, if any."""
    m = _GENERATED_RUN_ID.match(job_name)
    return m.group(1) if m else None


def new_run_id(now: Optional[float] = None) -> str:
    """A fresh run id such as ``mw261125T153012-a1b2c3``: sortable by start time, unique enough
    to be a job-name prefix, short enough to leave room for the call name."""
    stamp = time.strftime("%y%m%dT%H%M%S", time.gmtime(time.time() if now is None else now))
    return f"mw{stamp}-{secrets.token_hex(3)}"


def current_run_id() -> str:
    """The run id from ``MINIWDL__AWS__RUN_ID`` (``[aws] run_id``) when valid (a workflow job
    launched by the submitter), else a new one."""
    env = os.environ.get(ENV_RUN_ID, "")
    return env if is_valid_run_id(env) else new_run_id()


_process_run_id: Optional[str] = None


def process_run_id() -> str:
    """This process's run id, fixed on first use (:func:`current_run_id`): the backend names and
    tags every task job with it, and the end-of-run summary finds the run's jobs by it."""
    global _process_run_id
    if _process_run_id is None:
        _process_run_id = current_run_id()
    return _process_run_id


def sanitize_job_name(name: str, prefix: str = "") -> str:
    """A valid Batch job name built from ``prefix`` and any string (WDL call names, URLs...).

    Invalid characters become ``_``; the result is cut to 128 characters and never empty."""
    body = _JOB_NAME_BAD.sub("_", name).strip("_-") or "job"
    full = f"{prefix}-{body}" if prefix else body
    full = full[:JOB_NAME_MAX]
    if not full[0].isalnum():
        full = ("j" + full)[:JOB_NAME_MAX]
    return full
