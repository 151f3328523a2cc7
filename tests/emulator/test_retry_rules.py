"""AWS's evaluateOnExit rules, as a pure function (no emulator needed)."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import pytest

from miniwdl_aws.emulator._container import SPOT_REASON, should_retry

MINIWDL_STYLE: List[Dict[str, Any]] = [
    {"onStatusReason": "Host EC2*", "action": "RETRY"},
    {"onReason": "*", "action": "EXIT"},
]


@pytest.mark.parametrize(
    "rules, exit_code, status_reason, reason, expected",
    [
        (None, 1, "Essential container in task exited", None, True),  # no rules: retry
        (MINIWDL_STYLE, None, SPOT_REASON, None, True),
        (MINIWDL_STYLE, 1, "Essential container in task exited", None, False),
        ([{"onExitCode": "3*", "action": "exit"}], 33, "x", None, False),  # case-insensitive
        ([{"onExitCode": "3*", "action": "EXIT"}], 4, "x", None, True),  # no match: retry
        ([{"onExitCode": "1", "onReason": "Out*", "action": "EXIT"}], 1, "x", None, True),
        ([{"onExitCode": "1", "onReason": "Out*", "action": "EXIT"}], 1, "x", "OutOfMemory", False),
        (
            [{"onExitCode": "*", "action": "RETRY"}, {"onExitCode": "*", "action": "EXIT"}],
            2,
            "x",
            None,
            True,  # the first matching entry decides
        ),
    ],
)
def test_should_retry(
    rules: Optional[List[Dict[str, Any]]],
    exit_code: Optional[int],
    status_reason: str,
    reason: Optional[str],
    expected: bool,
) -> None:
    strategy = {"attempts": 3, "evaluateOnExit": rules} if rules is not None else None
    assert should_retry(strategy, exit_code, status_reason, reason) is expected
