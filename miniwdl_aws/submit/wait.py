"""Waiting for the workflow job, streaming its log, and mapping its outcome to an exit code."""

from __future__ import annotations

import collections
import textwrap
import time
from typing import Any, Callable, Deque, Dict, Optional, TypeVar

from miniwdl_aws.aws.batch import BatchApi
from miniwdl_aws.aws.logs import LogsApi
from miniwdl_aws.config import OPTIONS_BY_NAME
from miniwdl_aws.errors import AwsCallError, Throttled
from miniwdl_aws.submit import END_OF_LOG
from miniwdl_aws.submit.follow import LogFollower, LogLost
from miniwdl_aws.submit.outcome import WIDTH
from miniwdl_aws.submit.progress import TaskProgress

TERMINAL = ("SUCCEEDED", "FAILED")
LOG_TAIL = 5000  # followed lines kept, to find the run's error and directory after it ends
EXIT_FAILED_NO_CODE = 1  # the job FAILED without an exit code (e.g. the image could not start)
T = TypeVar("T")


class _JobNotListed(Exception):
    """DescribeJobs did not list the job (an endpoint that lost its state, or a lagging read)."""

    def __str__(self) -> str:
        return "DescribeJobs does not list the workflow job"


# the backend's tasks give up on DescribeJobs after this long too
DEFAULT_OUTAGE_LIMIT = float(OPTIONS_BY_NAME["describe_error_wait"].default)


def _describe_one(batch: BatchApi, job_id: str) -> Dict[str, Any]:
    jobs = batch.describe_jobs([job_id])
    if not jobs:
        raise _JobNotListed()
    return dict(jobs[0])


def exit_code_of(desc: Dict[str, Any]) -> int:
    """miniwdl's exit code from a terminal DescribeJobs entry."""
    code = desc.get("container", {}).get("exitCode")
    if desc.get("status") == "SUCCEEDED":
        return int(code or 0)
    if isinstance(code, int) and code != 0:
        return code
    return EXIT_FAILED_NO_CODE


class JobWaiter:
    """Polls one job until it is terminal, optionally printing its log lines as they arrive.

    :param batch: the Batch calls
    :param logs: the CloudWatch Logs calls (used with ``follow``)
    :param emit: prints one workflow log line
    :param note: prints one submitter status line
    :param sleep: injected for tests
    :param poll_seconds: DescribeJobs/GetLogEvents period
    :param marker_grace: seconds to keep reading the log for the end-of-log marker after the
        job ended (CloudWatch delivers lines late)
    :param outage_limit: seconds of consecutive transient AWS errors (5xx, throttling, no
        connection) after which waiting gives up (``[aws] describe_error_wait``); the workflow
        job is unaffected by them
    :param progress: shows the counts of the run's task jobs while the workflow job runs (with
        ``follow``, only while its log is quiet), and once more when it has ended
    """

    def __init__(
        self,
        batch: BatchApi,
        logs: Optional[LogsApi],
        emit: Callable[[str], None],
        note: Callable[[str], None],
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        poll_seconds: float = 2.0,
        marker_grace: float = 30.0,
        outage_limit: float = DEFAULT_OUTAGE_LIMIT,
        progress: Optional[TaskProgress] = None,
    ) -> None:
        self._batch = batch
        self._logs = logs
        self._progress = progress
        self._emit = self._clearing(emit)
        self._note = self._clearing(note)
        self._quiet_since: Optional[float] = None  # when the followed log last printed a line
        self._sleep = sleep
        self._clock = clock
        self._poll = poll_seconds
        self._grace = marker_grace
        self._outage_limit = outage_limit
        self._outage_since: Optional[float] = None
        self._job_id = ""
        self.follower: Optional[LogFollower] = None
        self.saw_end = False
        self.log_lost = False  # following stopped for good; waiting for the exit code goes on
        self.lines = 0
        self.tail: Deque[str] = collections.deque(maxlen=LOG_TAIL)
        self.desc: Dict[str, Any] = {}  # the job's last description

    def _clearing(self, say: Callable[[str], None]) -> Callable[[str], None]:
        """``say``, after erasing the progress line from the terminal."""

        def cleared(text: str) -> None:
            if self._progress is not None:
                self._progress.clear()
            say(text)

        return cleared

    def _show_progress(self, follow: bool) -> None:
        """The task-job counts; with ``follow``, only once the log has been quiet a period."""
        if self._progress is None:
            return
        now = self._clock()
        if follow:
            if self._quiet_since is None:
                self._quiet_since = now
            if now - self._quiet_since < self._progress.period:
                return
        self._progress.tick()

    def _note_wrapped(self, text: str) -> None:
        """A note that may be long (Batch's reasons run to hundreds of characters), in lines
        that fit a terminal."""
        for line in textwrap.wrap(text, WIDTH, break_long_words=False, break_on_hyphens=False):
            self._note(line)

    def _tolerant(self, call: Callable[[], T]) -> Optional[T]:
        """``call()``, or None while AWS is unreachable or failing transiently (noted once per
        outage); raises :class:`AwsCallError` once an outage outlasts ``outage_limit``."""
        try:
            result = call()
        # waiting goes on through errors that say nothing about the job (botocore has already
        # retried each call a few times; an outage can outlast that)
        except (Throttled, _JobNotListed) as exn:
            now = self._clock()
            if self._outage_since is None:
                self._outage_since = now
                self._note(f"WARNING: AWS call failed, will keep trying: {exn}")
            elif now - self._outage_since > self._outage_limit:
                raise AwsCallError(
                    "DescribeJobs/GetLogEvents",
                    None,
                    f"no answer for {int(now - self._outage_since)}s; stopped waiting, but the"
                    f" workflow job {self._job_id} may still be running: check it with"
                    f" `aws batch describe-jobs --jobs {self._job_id}` or `miniwdl-aws runs`",
                ) from None
            return None
        if self._outage_since is not None:
            self._note(f"AWS answers again after {self._clock() - self._outage_since:.0f}s")
            self._outage_since = None
        return result

    def _pump(self) -> None:
        """Print the follower's new lines, up to (not including) the end-of-log marker. An
        error that stops the log for good is said in one line; waiting for the job goes on."""
        if self.follower is None or self.saw_end or self.log_lost:
            return
        follower = self.follower
        restarts = follower.restarts
        try:
            messages = self._tolerant(follower.poll) or []
        except (LogLost, AwsCallError) as exn:
            self.log_lost = True
            self._note(
                f"WARNING: stopped following the workflow log ({' '.join(str(exn).split())});"
                f" still waiting for workflow job {self._job_id} to end. Read its log with"
                f" `aws logs tail {follower.group} --log-stream-names {follower.stream}`"
            )
            return
        if follower.restarts != restarts:
            self._note(
                "the log's read position expired (CloudWatch forward tokens last 24 h): read it"
                " again from the start, skipping the lines already printed"
            )
        for msg in messages:
            if msg.startswith(END_OF_LOG):
                self.saw_end = True
                return
            self._emit(msg)
            self.tail.append(msg)
            self.lines += 1
            self._quiet_since = self._clock()

    def wait(self, job_id: str, follow: bool) -> int:
        """Block until the job is terminal; return miniwdl's exit code."""
        status = None
        desc: Dict[str, Any] = {}
        self._job_id = job_id
        while True:
            found = self._tolerant(lambda: _describe_one(self._batch, job_id))
            if found is None:  # AWS unreachable for now: keep trying (bounded by outage_limit)
                self._sleep(self._poll)
                continue
            desc = self.desc = found
            if desc["status"] != status:
                status = desc["status"]
                if status not in TERMINAL or not follow:
                    self._note(f"{status}\t{job_id}")
            stream = desc.get("container", {}).get("logStreamName")
            if follow and stream and self.follower is None and self._logs is not None:
                self.follower = LogFollower(self._logs, stream)
                self._note(f"log stream: {self.follower.group} {stream}")
            self._pump()
            if status in TERMINAL:
                break
            if status == "RUNNING":
                self._show_progress(follow)
            self._sleep(self._poll)
        if follow and self.follower is not None and not self.saw_end and not self.log_lost:
            deadline = self._clock() + self._grace
            while not self.saw_end and self._clock() < deadline:
                self._sleep(min(self._poll, 1.0))
                self._pump()
            if not self.saw_end:
                self._note(
                    "WARNING: end-of-log marker not seen; more lines may still appear in log"
                    f" stream {self.follower.stream}"
                )
        if self._progress is not None:
            self._progress.finish()
        if follow:  # after the log's last lines, not in the middle of them
            self._note(f"{status}\t{job_id}")
        reason = desc.get("statusReason") or desc.get("container", {}).get("reason")
        code = exit_code_of(desc)
        if status == "FAILED" and "exitCode" not in desc.get("container", {}):
            self._note_wrapped(f"workflow job FAILED with no exit code: {reason or 'no reason'}")
        elif reason and status == "FAILED" and reason != "Essential container in task exited":
            self._note_wrapped(f"reason: {reason}")
        self._note(f"exit code {code}")
        return code
