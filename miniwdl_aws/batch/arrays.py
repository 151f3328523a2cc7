"""Batch array jobs for wide scatters: many task attempts, one SubmitJob.

AWS meters SubmitJob at about 50 calls per second per account, while one array job submits up
to 10,000 children at once, each told its index by ``AWS_BATCH_JOB_ARRAY_INDEX``. Task attempts
share a filesystem, and each attempt's container script is already written there before its
SubmitJob (only its path travels in the request). So first attempts whose requests are equal but
for their name, script and per-task environment can become one array job: the
:class:`ArrayCoalescer` writes a list file, one shell line per child (its task's environment and
script), and submits one parent whose command picks the line of its index.

Grouping: an attempt of a shape not offered in the last ``window`` seconds goes plain at once,
so a lone task (a workflow's sequential steps) never waits for company that will not come. The
next attempt of that shape within the window opens a group, which gathers more of the same shape
until none has joined for ``quiet`` seconds, ``window`` seconds have passed since it opened, or
it has ``max_size`` members, whichever comes first: a scatter's first task goes plain and the
rest gather, and a burst of ready tasks is submitted as soon as the burst is over rather than a
whole window later. A group smaller than ``min_size`` is handed back: each of its
attempts is submitted as a plain job, as without arrays. Retries
never come here (the caller only offers first attempts), so a child's failure, OOM or Spot
interruption is retried as a plain job, its own task's alone.

The parent's SubmitJob goes through the process's one :class:`~.submitter.AdaptiveSubmitter`
and :func:`~.recovery.submit_without_twins` (its name is unique), so throttling and lost
responses are settled exactly as for a plain job. Each task then waits on its own child,
``<parent id>:<index>``, and terminates only that child when aborted (AWS: terminating a child
"moves them to FAILED" without affecting the others).
"""

from __future__ import annotations

import copy
import json
import logging
import os
import secrets
import shlex
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from .. import naming
from .._util import _
from .recovery import JobSubmitApi, submit_without_twins
from .submitter import AdaptiveSubmitter, SubmitAborted

__all__ = [
    "ARRAY_MAX",
    "ARRAY_MIN",
    "ArrayCoalescer",
    "array_request",
    "child_line",
    "dispatcher_command",
    "group_key",
    "split_child_id",
]

ARRAY_MIN = 2  # AWS: an array job's size is "between 2 and 10,000"
ARRAY_MAX = 10_000
# what differs between attempts that may share one array job (everything else must be equal)
PER_TASK_ENV = (naming.ENV_TASK_RUN_ID, naming.ENV_TASK_ATTEMPT)
PER_TASK_TAGS = (naming.TAG_CALL, naming.TAG_ATTEMPT)
WAKE_SECONDS = 0.25  # how often a waiting attempt checks terminating()
# A scatter's ready tasks reach the coalescer one after another as miniwdl prepares them (a few
# milliseconds of CPU each, serialized by the GIL); a pause this long means the burst is over.
QUIET_SECONDS = 0.15


def split_child_id(job_id: str) -> Optional[Tuple[str, int]]:
    """``(parent id, index)`` of an array child's id (``<parent id>:<index>``), else None."""
    parent, sep, index = job_id.rpartition(":")
    if not sep or not parent or not index.isdigit():
        return None
    return parent, int(index)


def _per_task_env(request: Dict[str, Any]) -> List[Dict[str, str]]:
    env = (request.get("containerOverrides") or {}).get("environment") or []
    return [e for e in env if e.get("name") in PER_TASK_ENV]


def group_key(request: Dict[str, Any]) -> str:
    """What must be equal for two SubmitJob requests to share an array job: the request without
    its name, command and per-task environment and tags (a canonical JSON text)."""
    shape = copy.deepcopy(request)
    shape.pop("jobName", None)
    overrides = shape.get("containerOverrides") or {}
    overrides.pop("command", None)
    env = overrides.get("environment") or []
    overrides["environment"] = [e for e in env if e.get("name") not in PER_TASK_ENV]
    tags = shape.get("tags") or {}
    for key in PER_TASK_TAGS:
        tags.pop(key, None)
    return json.dumps(shape, sort_keys=True, default=str)


def child_line(request: Dict[str, Any]) -> str:
    """One child's line of the list file: its task's environment, then its command, every value
    shell-quoted. A value with a newline would split the line, so it is refused (ours are run
    ids and paths)."""
    parts = [f"export {e['name']}={shlex.quote(str(e['value']))};" for e in _per_task_env(request)]
    command = (request.get("containerOverrides") or {}).get("command") or []
    line = " ".join(parts + ["exec " + " ".join(shlex.quote(str(c)) for c in command)])
    if "\n" in line:
        raise ValueError(f"array child line must be one line: {line!r}")
    return line


def dispatcher_command(list_file: str) -> List[str]:
    """The parent's command: run line ``AWS_BATCH_JOB_ARRAY_INDEX`` (0-based) of ``list_file``.
    Bash only (mapfile), as the plain job's script already needs bash."""
    script = (
        'i="${AWS_BATCH_JOB_ARRAY_INDEX:?not an array child}"; '
        'mapfile -t -s "$i" -n 1 line < "$0" || exit 1; '
        '[ -n "${line[0]:-}" ] || { echo "no line $i in $0" >&2; exit 1; }; '
        'eval "${line[0]}"'
    )
    return ["/bin/bash", "-c", script, list_file]


def array_request(requests: List[Dict[str, Any]], job_name: str, list_file: str) -> Dict[str, Any]:
    """The parent's SubmitJob request for ``requests`` (of one :func:`group_key`)."""
    req = copy.deepcopy(requests[0])
    req["jobName"] = job_name
    overrides = req.setdefault("containerOverrides", {})
    overrides["command"] = dispatcher_command(list_file)
    env = overrides.get("environment") or []
    overrides["environment"] = [e for e in env if e.get("name") not in PER_TASK_ENV]
    tags = req.setdefault("tags", {})
    # the children's calls are in the list file and in each task's own log; the parent says
    # what it is and how many it holds
    tags[naming.TAG_CALL] = f"array-of-{len(requests)}"
    tags[naming.TAG_ATTEMPT] = "1"
    req["arrayProperties"] = {"size": len(requests)}
    return req


class _GoPlain(Exception):
    """The array could not be prepared; its attempts are to be submitted as plain jobs."""


class _Member:
    def __init__(
        self, request: Dict[str, Any], terminating: Callable[[], bool], logger: logging.Logger
    ) -> None:
        self.request = request
        self.logger = logger
        self.terminating = terminating
        self.index = -1


class _Group:
    def __init__(self, key: str, opened: float, deadline: float, lock: threading.Lock) -> None:
        self.key = key
        # One condition per group, on the coalescer's lock: a state change wakes this group's
        # members only. A single condition for all groups woke every waiting attempt (hundreds
        # in a wide scatter) at every join, a futex storm that cost the runner CPU.
        self.cond = threading.Condition(lock)
        self.deadline = deadline
        self.last_join = opened
        self.members: List[_Member] = []
        self.state = "open"  # -> closed -> done | plain | failed
        self.parent_id: Optional[str] = None
        self.error: Optional[BaseException] = None


class ArrayCoalescer:
    """Groups first attempts of the same shape into array jobs (see the module docstring).

    :param api: SubmitJob and the lookup by name, as for plain jobs
    :param submitter: the process's SubmitJob pacer
    :param window: longest a group stays open for more attempts, in seconds
    :param quiet: a group closes once no attempt has joined it for this long (seconds; capped
        at ``window``)
    :param min_size: smallest group submitted as an array (≥ 2); smaller ones go plain
    :param max_size: largest array (≤ 10,000)
    :param recovery_seconds: ``[aws] submit_recovery_seconds``, for a lost response
    :param lone_plain: an attempt of a shape not offered within the last ``window`` seconds goes
        plain at once (False: it opens a group; tests of grouping)
    """

    def __init__(
        self,
        api: JobSubmitApi,
        submitter: AdaptiveSubmitter,
        window: float,
        min_size: int,
        max_size: int = ARRAY_MAX,
        recovery_seconds: float = 30.0,
        logger: Optional[logging.Logger] = None,
        clock: Callable[[], float] = time.monotonic,
        lone_plain: bool = True,
        quiet: float = QUIET_SECONDS,
    ) -> None:
        assert ARRAY_MIN <= min_size <= max_size <= ARRAY_MAX and window >= 0 and quiet > 0
        self.api, self.submitter = api, submitter
        self.window, self.min_size, self.max_size = window, min_size, max_size
        self.quiet = min(quiet, window) if window > 0 else quiet
        self.recovery_seconds = recovery_seconds
        self._logger = logger or logging.getLogger(__name__)
        self._clock = clock
        self._lock = threading.Lock()
        self._open: Dict[str, _Group] = {}
        self.lone_plain = lone_plain
        self._last_offer: Dict[str, float] = {}  # shape -> when an attempt of it was last offered
        self._seq = 0
        self.arrays = 0  # array jobs submitted
        self.children = 0  # attempts submitted as their children
        self.parents: List[str] = []  # ids of the array jobs submitted

    def submit(
        self, logger: logging.Logger, request: Dict[str, Any], terminating: Callable[[], bool]
    ) -> Optional[str]:
        """Offer one first attempt's request; returns its child's job id, or None when it is to
        be submitted as a plain job (its group stayed too small).

        :raises SubmitAborted: ``terminating()`` became true before its array was submitted
        :raises AwsCallError: the array's SubmitJob failed for good
        """
        member = _Member(request, terminating, logger)
        key = group_key(request)
        with self._lock:
            now = self._clock()
            last, self._last_offer[key] = self._last_offer.get(key), now
            group = self._open.get(key)
            if group is None and self.lone_plain and (last is None or now - last > self.window):
                return None  # nothing of this shape lately: no company to wait for
            if group is None:
                group = _Group(key, now, now + self.window, self._lock)
                self._open[key] = group
                threading.Thread(
                    target=self._close_and_submit, args=(group,), name="miniwdl-aws-array",
                    daemon=True,
                ).start()  # fmt: skip
            group.members.append(member)
            group.last_join = now  # the closer wakes on its own and sees the later quiet time
            if len(group.members) >= self.max_size:
                self._close(group)
                group.cond.notify_all()
            while True:
                if group.state == "done":
                    return f"{group.parent_id}:{member.index}"
                if group.state == "plain":
                    return None
                if group.state == "failed":
                    assert group.error is not None
                    raise group.error
                if group.state == "open" and terminating():
                    group.members.remove(member)
                    raise SubmitAborted()
                group.cond.wait(WAKE_SECONDS)

    def _close(self, group: _Group) -> None:
        # under the lock
        if group.state == "open":
            group.state = "closed"
            if self._open.get(group.key) is group:
                del self._open[group.key]

    def _close_and_submit(self, group: _Group) -> None:
        with self._lock:
            while group.state == "open":
                left = min(group.deadline, group.last_join + self.quiet) - self._clock()
                if left <= 0:
                    break
                group.cond.wait(min(left, WAKE_SECONDS))
            self._close(group)
            members = list(group.members)
            for i, m in enumerate(members):
                m.index = i
            if len(members) < self.min_size:
                group.state = "plain"
                group.cond.notify_all()
                return
        try:
            parent_id = self._submit_array(members)
        except _GoPlain:
            with self._lock:
                group.state = "plain"
                group.cond.notify_all()
            return
        except BaseException as exn:  # delivered to every member's thread
            with self._lock:
                group.state, group.error = "failed", exn
                group.cond.notify_all()
            return
        with self._lock:
            group.state, group.parent_id = "done", parent_id
            self.arrays += 1
            self.children += len(members)
            self.parents.append(parent_id)
            group.cond.notify_all()

    def _job_name(self, request: Dict[str, Any], size: int) -> str:
        with self._lock:
            self._seq += 1
            seq = self._seq
        run_id = str((request.get("tags") or {}).get(naming.TAG_RUN_ID) or "miniwdl")
        # unique, so that a lost response can be settled by looking the name up
        return naming.sanitize_job_name(f"array{seq}-of-{size}-{secrets.token_hex(3)}", run_id)

    def _submit_array(self, members: List[_Member]) -> str:
        requests = [m.request for m in members]
        name = self._job_name(requests[0], len(requests))
        script = ((requests[0].get("containerOverrides") or {}).get("command") or ["", ""])[-1]
        # next to the first task's script, on the shared filesystem every child mounts
        list_file = os.path.join(os.path.dirname(str(script)), f"{name}.list")
        logger = members[0].logger  # the task log of the attempt that opened the group
        try:
            text = "".join(child_line(r) + "\n" for r in requests)
            tmp = f"{list_file}.tmp{os.getpid()}"
            with open(tmp, "w") as outfile:
                outfile.write(text)
            os.replace(tmp, list_file)  # whole before SubmitJob: no child may read half of it
        except (OSError, ValueError) as exn:
            # nothing submitted yet: these attempts can still go as plain jobs
            logger.warning(_("cannot write an array job's list file; submitting plain jobs",
                             listFile=list_file, error=str(exn)))  # fmt: skip
            raise _GoPlain() from None
        request = array_request(requests, name, list_file)
        since_ms = int(time.time() * 1000) - 5000  # slack for clock skew

        def once() -> str:
            # a unique name: a lost response is settled by looking it up, never by a twin
            return submit_without_twins(
                self.api, request, since_ms, self.recovery_seconds, log=logger
            )

        def all_terminating() -> bool:
            # one aborted task must not abort its siblings' submission; all of them may
            return all(m.terminating() for m in members)

        parent_id = self.submitter.call(once, all_terminating, logger)
        getattr(logger, "notice", logger.info)(
            _(
                "AWS Batch array job submitted",
                jobId=parent_id,
                jobName=name,
                size=len(requests),
                jobQueue=request.get("jobQueue"),
                listFile=list_file,
            )
        )
        return parent_id

    def stats(self) -> Dict[str, int]:
        """Array jobs submitted and attempts they hold, for logs and tests."""
        with self._lock:
            return {"arrays": self.arrays, "children": self.children}
