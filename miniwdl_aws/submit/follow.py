"""The CloudWatch Logs follower, shared with ``miniwdl-aws logs``: see
:mod:`miniwdl_aws.logfollow`."""

from miniwdl_aws.logfollow import EXPIRED_TOKEN_CODE, LOG_GROUP, LogFollower, LogLost

__all__ = ["EXPIRED_TOKEN_CODE", "LOG_GROUP", "LogFollower", "LogLost"]
