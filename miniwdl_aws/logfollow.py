"""Following one CloudWatch Logs stream with GetLogEvents and forward tokens (the submitter's
``--follow`` and ``miniwdl-aws logs``).

Logs has no GetLogEvents paginator, and at the end of a stream ``nextForwardToken`` comes back
equal to the token passed in; events that arrive later are returned by the next call with that
same token. So a follower keeps the last token and, on each poll, pages forward until the token
stops changing: every event is returned exactly once and in stream order, however late it was
delivered. The stream may not exist yet when a job has just started (ResourceNotFound).

A forward token expires after 24 hours (GetLogEvents then answers InvalidParameterException),
which a follower meets when a stream stays quiet that long (one long task). The follower then
reads the stream again from its head, once, skipping the events it already handed out (it counts
them, and checks that the last one skipped is the last one handed out). Any other error that no
retry can fix (AccessDenied...) is :class:`LogLost`: the caller stops following the log, and
the job itself is unaffected.
"""

from __future__ import annotations

from typing import List, Optional

from miniwdl_aws.aws.logs import LogsApi
from miniwdl_aws.errors import AwsCallError, MiniwdlAwsError, Throttled

LOG_GROUP = "/aws/batch/job"  # Batch's default awslogs group
# The workflow job's wrapper prints this as its very last line; followers stop when they see it.
END_OF_LOG = "[miniwdl-aws-workflow] -- END OF LOG --"
_MAX_PAGES_PER_POLL = 1000  # a bound, so one poll of a huge backlog still returns
# GetLogEvents' answer to an expired (or otherwise unusable) nextToken
EXPIRED_TOKEN_CODE = "InvalidParameterException"


class LogLost(MiniwdlAwsError):
    """The stream can no longer be followed (an error no retry fixes, or a restart that could
    not find where it had got to); str() is one line."""


class LogFollower:
    """Returns the new messages of one log stream on each :meth:`poll`.

    :param logs: the CloudWatch Logs calls
    :param stream: log stream name (DescribeJobs ``container.logStreamName``)
    :param group: log group name
    """

    def __init__(self, logs: LogsApi, stream: str, group: str = LOG_GROUP) -> None:
        self._logs = logs
        self.stream = stream
        self.group = group
        self._token: Optional[str] = None
        self._handed_out = 0  # events returned by poll() so far: the position in the stream
        self._last: Optional[str] = None  # the last of them
        self._skip = 0  # after a restart: events at the head already handed out
        self.restarts = 0  # re-reads from the head (at most one)
        self._lost: Optional[LogLost] = None  # raised by the next poll (this one had lines)

    def poll(self) -> List[str]:
        """Messages delivered since the last poll, oldest first (none if the stream does not
        exist yet).

        :raises Throttled: a transient failure before any message of this poll was read
        :raises LogLost: the stream cannot be followed any more
        """
        if self._lost is not None:
            raise self._lost
        messages: List[str] = []
        try:
            self._read(messages)
        except LogLost as exn:
            if not messages:
                raise
            self._lost = exn  # hand out the lines read before it first
        return messages

    def _read(self, messages: List[str]) -> None:
        """Page forward to the end of the stream (or the page bound), into ``messages``."""
        for _ in range(_MAX_PAGES_PER_POLL):
            try:
                page, token = self._logs.log_events(self.group, self.stream, self._token)
            except AwsCallError as exn:
                if exn.code == "ResourceNotFoundException":
                    return
                if exn.code == EXPIRED_TOKEN_CODE and not self.restarts:
                    self._restart()
                    continue
                if messages:  # the token already moved past them: hand them out; the error
                    return  # recurs on the next poll if it persists
                if isinstance(exn, Throttled):
                    raise
                raise LogLost(f"cannot read log stream {self.group} {self.stream}: {exn}") from None
            messages.extend(self._unseen(page))
            if token is None or token == self._token:
                self._check_caught_up()
                return
            self._token = token

    def _restart(self) -> None:
        """Read the stream again from its head, skipping what was handed out (once only)."""
        self.restarts += 1
        self._token = None
        self._skip = self._handed_out

    def _unseen(self, page: List[str]) -> List[str]:
        """``page`` without the events a restart re-reads (already handed out)."""
        if self._skip:
            skipped, page = page[: self._skip], page[self._skip :]
            self._skip -= len(skipped)
            if not self._skip and skipped[-1] != self._last:
                raise LogLost(
                    f"log stream {self.group} {self.stream} changed (older events expired?):"
                    " cannot tell which lines were already printed"
                )
        self._handed_out += len(page)
        if page:
            self._last = page[-1]
        return page

    def _check_caught_up(self) -> None:
        if self._skip:  # the whole stream re-read is shorter than what was handed out
            raise LogLost(
                f"log stream {self.group} {self.stream} is shorter than before (older events"
                " expired?): cannot tell which lines were already printed"
            )
