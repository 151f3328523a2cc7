"""Small pure helpers of the backend: job-name shortening, workflow names, durations, tags."""

from __future__ import annotations

import pytest

from miniwdl_aws import backend


def test_shorten_keeps_head_and_tail() -> None:
    assert backend._shorten("short", 10) == "short"
    name = "t" * 150 + "-17-sample_x"
    out = backend._shorten(name, 100)
    assert len(out) == 100 and out.endswith("-17-sample_x") and out.startswith("ttt")


@pytest.mark.parametrize(
    "host_dir,expected",
    [
        ("/efs/20261125_153000_my_wf/call-a", "my_wf"),
        ("/efs/20261125_153000_my_wf/call-s/call-b-2", "my_wf"),
        ("/efs/runs/call-x", "runs"),
        ("/efs/20261125_153000_taskonly", "taskonly"),
    ],
)
def test_workflow_name_from_run_dir(host_dir: str, expected: str) -> None:
    assert backend._workflow_name(host_dir) == expected


@pytest.mark.parametrize(
    "value,seconds",
    [
        (90, 90.0),
        (1.5, 1.5),
        ("120", 120.0),
        ("90s", 90.0),
        ("30m", 1800.0),
        ("2h", 7200.0),
        ("1d", 86400.0),
        (" 2 H ", 7200.0),
    ],
)
def test_parse_duration(value: object, seconds: float) -> None:
    assert backend._parse_duration(value) == seconds


@pytest.mark.parametrize("bad", ["soon", "1w", "", "-5m", True])
def test_parse_duration_rejects(bad: object) -> None:
    with pytest.raises(ValueError):
        backend._parse_duration(bad)


def test_tag_values_are_sanitised_and_bounded() -> None:
    assert backend._tag_value("call-a b:c/d=e+f@g.h") == "call-a b:c/d=e+f@g.h"
    assert backend._tag_value("x{y}[z]") == "x_y__z_"
    assert len(backend._tag_value("v" * 400)) == 256
