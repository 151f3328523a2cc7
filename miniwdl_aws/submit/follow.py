"""Following one CloudWatch Logs stream with GetLogEvents and forward tokens.

Logs has no GetLogEvents paginator, and at the end of a stream ``nextForwardToken`` comes back
equal to the token passed in; events that arrive later are returned by the next call with that
same token. So a follower keeps the last token and, on each poll, pages forward until the token
stops changing: every event is returned exactly once and in stream order, however late it was
delivered. The stream may not exist yet when a job has just started (ResourceNotFound).
"""

from __future__ import annotations

from typing import List, Optional

from miniwdl_aws.aws.logs import LogsApi
from miniwdl_aws.errors import AwsCallError

LOG_GROUP = "/aws/batch/job"  # Batch's default awslogs group
_MAX_PAGES_PER_POLL = 1000  # a bound, so one poll of a huge backlog still returns


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

    def poll(self) -> List[str]:
        """Messages delivered since the last poll, oldest first (none if the stream does not
        exist yet)."""
        messages: List[str] = []
        for _ in range(_MAX_PAGES_PER_POLL):
            try:
                page, token = self._logs.log_events(self.group, self.stream, self._token)
            except AwsCallError as exn:
                if exn.code == "ResourceNotFoundException":
                    return messages
                if messages:  # the token already moved past them: hand them out; the error
                    return messages  # recurs on the next poll if it persists
                raise
            messages.extend(page)
            if token is None or token == self._token:
                break
            self._token = token
        return messages
