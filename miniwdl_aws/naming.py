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
import unicodedata
from typing import Mapping, Optional

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
# On job definitions: the content hash their name carries (with propagateTags, jobs get it too).
TAG_DEFINITION_HASH = "MiniwdlDefinitionHash"

# Tags of the workflow queue that complete what a user did not set, for the submitter and
# `doctor` alike (infra/miniwdl-aws.yaml sets them; WorkflowImage only when given an image).
TAG_TASK_QUEUE = "DefaultTaskQueue"
TAG_TASK_QUEUE_FALLBACK = "DefaultTaskQueueFallback"
TAG_FSAP = "DefaultFsap"
TAG_WORKFLOW_ROLE = "WorkflowEngineRoleArn"
TAG_WORKFLOW_IMAGE = "WorkflowImage"
# Every key miniwdl-aws itself may put on one resource: a task job's ECS task carries all of them
# (the job's own tags plus, through propagateTags, its definition's).
OUR_TAG_KEYS = frozenset(
    {
        TAG_RUN_ID,
        TAG_WORKFLOW,
        TAG_CALL,
        TAG_ATTEMPT,
        TAG_ROLE,
        TAG_PARENT_JOB_ID,
        TAG_DEFINITION_HASH,
    }
)

# AWS tag rules (Batch and ECS tagging docs): at most 50 tags per resource (those starting with
# aws: are AWS's own and not counted), keys 1-128 and values 0-256 characters of letters, digits,
# spaces and _ . : / = + - @, and neither may start with aws: (any case).
MAX_TAGS = 50
TAG_KEY_MAX = 128
TAG_VALUE_MAX = 256
_TAG_PUNCTUATION = frozenset("_.:/=+-@")

# Job definition names: up to 128 letters, digits, hyphens and underscores. Ours are
# <prefix>-<first DEFINITION_HASH_CHARS hex digits of the content hash>.
JOB_DEFINITION_NAME_MAX = 128
DEFINITION_HASH_CHARS = 20
_JOB_DEFINITION_PREFIX_OK = re.compile(r"^[A-Za-z0-9_-]+$")

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


def _shorten(name: str, budget: int) -> str:
    # drop the middle: the end of a call's run id holds the scatter index and tag, which tell
    # sibling jobs apart
    if len(name) <= budget:
        return name
    tail = min(32, budget // 2)
    return name[: budget - tail - 1] + "_" + name[-tail:]


def task_job_name(run_id: str, call_run_id: str, try_counter: int) -> str:
    """``<run id>-<call>[-tryN]``, valid for Batch and at most 128 characters, however long or
    odd the call's run id (cut in the middle, so the scatter index at its end survives)."""
    call = call_run_id[5:] if call_run_id.startswith("call-") else call_run_id
    suffix = f"-try{try_counter}" if try_counter > 1 else ""
    budget = JOB_NAME_MAX - len(run_id) - 1 - len(suffix)
    return sanitize_job_name(_shorten(call, budget) + suffix, prefix=run_id)


def _tag_text_ok(text: str) -> bool:
    # "letters, numbers, and spaces representable in UTF-8" are Unicode categories L, N and Z
    return all(ch in _TAG_PUNCTUATION or unicodedata.category(ch)[0] in "LNZ" for ch in text)


def _tag_problem(key: str, value: str) -> Optional[str]:
    if not key:
        return "a tag key must not be empty"
    for what, text, limit in (("key", key, TAG_KEY_MAX), ("value", value, TAG_VALUE_MAX)):
        if len(text) > limit:
            return f"tag {what} {text[:40]!r}... is {len(text)} characters (AWS allows {limit})"
        if text.lower().startswith("aws:"):
            return f"tag {what} {text!r} starts with aws:, which AWS reserves for itself"
        if not _tag_text_ok(text):
            return (
                f"tag {what} {text!r} has characters AWS does not allow in tags (letters,"
                " digits, spaces and _ . : / = + - @ only)"
            )
    return None


def tag_problem(tags: Mapping[str, str]) -> Optional[str]:
    """The first way user ``tags`` break AWS's tag rules, as one line, or None when they are fine.

    Checks every key and value (length, allowed characters, no ``aws:`` prefix) and the count:
    with the tags miniwdl-aws adds (:data:`OUR_TAG_KEYS`) one resource may carry at most
    :data:`MAX_TAGS`. Pure, so the backend's ``global_init`` and the submitter apply the same
    rules before any job is submitted."""
    for key, value in tags.items():
        problem = _tag_problem(str(key), str(value))
        if problem:
            return problem
    total = len(set(map(str, tags)) | OUR_TAG_KEYS)
    if total > MAX_TAGS:
        room = MAX_TAGS - len(OUR_TAG_KEYS)
        return (
            f"{len(tags)} tags are too many: AWS allows {MAX_TAGS} per resource and miniwdl-aws"
            f" adds {len(OUR_TAG_KEYS)} of its own, so at most {room} user tags"
        )
    return None


def job_definition_name(prefix: str, digest: str) -> str:
    """``<prefix>-<hash>``: the name of the job definition whose content hashes to ``digest``
    (cut to Batch's 128 characters, which a valid prefix never needs)."""
    return f"{prefix}-{digest[:DEFINITION_HASH_CHARS]}"[:JOB_DEFINITION_NAME_MAX]


def job_definition_prefix_problem(prefix: str) -> Optional[str]:
    """Why ``prefix`` cannot start our job definition names (``[aws] job_definition_prefix``),
    as one line, or None when it can."""
    if not _JOB_DEFINITION_PREFIX_OK.match(prefix):
        return (
            f"{prefix!r} is not a job definition name prefix: letters, digits, - and _ only,"
            " not empty"
        )
    longest = JOB_DEFINITION_NAME_MAX - 1 - DEFINITION_HASH_CHARS
    if len(prefix) > longest:
        return (
            f"{prefix[:40]!r}... is {len(prefix)} characters: with -<{DEFINITION_HASH_CHARS} hex>"
            f" the job definition name must fit AWS's {JOB_DEFINITION_NAME_MAX} (prefix at most"
            f" {longest})"
        )
    return None
