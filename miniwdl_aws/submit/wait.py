"""Waiting for the workflow job, streaming its log, and mapping its outcome to an exit code."""

from __future__ import annotations

import time
from typing import Any, Callable, Dict, Optional

from miniwdl_aws.submit import END_OF_LOG
from miniwdl_aws.submit.follow import LogFollower

TERMINAL = ("SUCCEEDED", "FAILED")
EXIT_FAILED_NO_CODE = 1  # the job FAILED without an exit code (e.g. the image could not start)


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

    :param batch: boto3 Batch client
    :param logs: boto3 CloudWatch Logs client (used with ``follow``)
    :param emit: prints one workflow log line
    :param note: prints one submitter status line
    :param sleep: injected for tests
    :param poll_seconds: DescribeJobs/GetLogEvents period
    :param marker_grace: seconds to keep reading the log for the end-of-log marker after the
        job ended (CloudWatch delivers lines late)
    """

    def __init__(
        self,
        batch: Any,
        logs: Any,
        emit: Callable[[str], None],
        note: Callable[[str], None],
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        poll_seconds: float = 2.0,
        marker_grace: float = 30.0,
    ) -> None:
        self._batch = batch
        self._logs = logs
        self._emit = emit
        self._note = note
        self._sleep = sleep
        self._clock = clock
        self._poll = poll_seconds
        self._grace = marker_grace
        self.follower: Optional[LogFollower] = None
        self.saw_end = False
        self.lines = 0

    def _pump(self) -> None:
        """Print the follower's new lines, up to (not including) the end-of-log marker."""
        if self.follower is None or self.saw_end:
            return
        for msg in self.follower.poll():
            if msg.startswith(END_OF_LOG):
                self.saw_end = True
                return
            self._emit(msg)
            self.lines += 1

    def wait(self, job_id: str, follow: bool) -> int:
        """Block until the job is terminal; return miniwdl's exit code."""
        status = None
        while True:
            desc = self._batch.describe_jobs(jobs=[job_id])["jobs"][0]
            if desc["status"] != status:
                status = desc["status"]
                if status not in TERMINAL or not follow:
                    self._note(f"{status}\t{job_id}")
            stream = desc.get("container", {}).get("logStreamName")
            if follow and stream and self.follower is None:
                self.follower = LogFollower(self._logs, stream)
                self._note(f"log stream: {self.follower.group} {stream}")
            self._pump()
            if status in TERMINAL:
                break
            self._sleep(self._poll)
        if follow and self.follower is not None and not self.saw_end:
            deadline = self._clock() + self._grace
            while not self.saw_end and self._clock() < deadline:
                self._sleep(min(self._poll, 1.0))
                self._pump()
            if not self.saw_end:
                self._note(
                    "WARNING: end-of-log marker not seen; more lines may still appear in log"
                    f" stream {self.follower.stream}"
                )
        if follow:  # after the log's last lines, not in the middle of them
            self._note(f"{status}\t{job_id}")
        reason = desc.get("statusReason") or desc.get("container", {}).get("reason")
        code = exit_code_of(desc)
        if status == "FAILED" and "exitCode" not in desc.get("container", {}):
            self._note(f"workflow job FAILED with no exit code: {reason or 'no reason given'}")
        elif reason and status == "FAILED" and reason != "Essential container in task exited":
            self._note(f"reason: {reason}")
        self._note(f"exit code {code}")
        return code
