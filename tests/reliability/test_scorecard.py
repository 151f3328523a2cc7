"""The scorecard framework itself: formatting, counting, and that nothing unrun can pass."""

from __future__ import annotations

from .scorecard import Scorecard, Status, judged, not_run


def test_rows_and_summary() -> None:
    card = Scorecard("title")
    card.add(judged("throttle", "tasks failed = 0", "0", True))
    card.add(judged("sigterm", "12.5 s", "<= 10 s", False, "slow terminate"))
    card.add(not_run("restart", "exit!=0", "part missing: serve"))
    lines = card.lines()
    assert lines[0] == "title"
    assert lines[-1] == "1 passed, 2 failed (1 not run)"
    body = "\n".join(lines)
    assert "tasks failed = 0" in body and "12.5 s" in body and "not run" in body
    # details are printed only for rows that did not pass
    assert "slow terminate" in body and "part missing: serve" in body
    assert card.passed == 1 and card.failed == 2


def test_not_run_never_passes() -> None:
    row = not_run("x", "0", "missing")
    assert row.status is Status.NOT_RUN and not row.passed
    assert Scorecard("t", [row]).failed == 1


def test_columns_align() -> None:
    card = Scorecard("t", [judged("a", "1", "0", False), judged("longer name", "22", "0", True)])
    rows = [ln for ln in card.lines() if ln.startswith(("a ", "longer"))]
    assert len({ln.index(" 0 ") for ln in rows}) == 1  # the goal column lines up


def test_details_for_every_row_on_request() -> None:
    card = Scorecard("t", [judged("a", "1", "1", True, "how it went")])
    assert "how it went" not in card.render()
    assert "how it went" in card.render(details=True)
