"""The one CloudWatch Logs reader: every message of a stream, read independently of whatever
the product printed."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

BATCH_LOG_GROUP = "/aws/batch/job"


def stream_messages(
    stream: str, group: str = BATCH_LOG_GROUP, logs: Optional[Any] = None
) -> List[str]:
    """Every message of one log stream, oldest first.

    GetLogEvents has no paginator: pages are followed with ``nextForwardToken``, which repeats
    at the end of the stream.

    :param logs: a CloudWatch Logs client (default: ``boto3.client("logs")``, which the test
        fixtures point at the local AWS through ``os.environ``)
    """
    if logs is None:
        import boto3

        logs = boto3.client("logs")
    out: List[str] = []
    token = None
    while True:
        # startFromHead stays true with a forward token (as GetLogEvents requires)
        kwargs: Dict[str, Any] = {
            "logGroupName": group,
            "logStreamName": stream,
            "startFromHead": True,
        }
        if token:
            kwargs["nextToken"] = token
        resp = logs.get_log_events(**kwargs)
        out.extend(event["message"] for event in resp["events"])
        if resp["nextForwardToken"] == token or not resp["events"]:
            return out
        token = resp["nextForwardToken"]
