"""The CloudWatch Logs call of miniwdl-aws (following the workflow job's log stream)."""

from __future__ import annotations

from typing import List, Optional, Tuple

from .calls import ServiceApi

__all__ = ["LogsApi"]


class LogsApi(ServiceApi):
    """CloudWatch Logs calls, counted (see :class:`~miniwdl_aws.aws.calls.ServiceApi`)."""

    SERVICE = "logs"

    def log_events(
        self, group: str, stream: str, token: Optional[str]
    ) -> Tuple[List[str], Optional[str]]:
        """One GetLogEvents page read forward from the stream's head (or from ``token``):
        ``(messages, nextForwardToken)``. Logs has no paginator for it: at the end of a stream
        the token comes back unchanged, and later events arrive behind that same token.

        :raises AwsCallError: code ``ResourceNotFoundException`` when the stream does not exist
        """
        client = self._clients("logs")
        if token is None:
            res = self._call(
                "GetLogEvents",
                lambda: client.get_log_events(
                    logGroupName=group, logStreamName=stream, startFromHead=True
                ),
            )
        else:
            res = self._call(
                "GetLogEvents",
                lambda: client.get_log_events(
                    logGroupName=group, logStreamName=stream, startFromHead=True, nextToken=token
                ),
            )
        messages = [str(ev.get("message", "")) for ev in res.get("events", [])]
        return messages, res.get("nextForwardToken")
