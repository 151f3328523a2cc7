"""The reliability scorecard: one row per scenario with the measured figure and its goal.

A row is *passed* only when its scenario ran and met the goal. A scenario whose part of the
product is not there yet (or could not be set up) is *not run*, never passed, and counts as
failed in the summary line, so an incomplete product can never show a clean card.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Iterable, List, Optional


class Status(enum.Enum):
    """Outcome of one scorecard row."""

    PASSED = "pass"
    FAILED = "FAIL"
    NOT_RUN = "not run"


@dataclasses.dataclass
class Row:
    """One scorecard line.

    :param name: what was done, e.g. ``throttle 30% of Batch calls, 200-task scatter``
    :param figure: what was measured, e.g. ``tasks failed = 0``
    :param goal: what it must be, e.g. ``0``
    :param status: pass / FAIL / not run
    :param detail: why it failed or was not run (one line), plus any numbers worth keeping
    """

    name: str
    figure: str
    goal: str
    status: Status
    detail: str = ""

    @property
    def passed(self) -> bool:
        """True only for a scenario that ran and met its goal."""
        return self.status is Status.PASSED


def judged(name: str, figure: str, goal: str, ok: bool, detail: str = "") -> Row:
    """A row for a scenario that ran: passed when ``ok``."""
    return Row(name, figure, goal, Status.PASSED if ok else Status.FAILED, detail)


def not_run(name: str, goal: str, why: str) -> Row:
    """A row for a scenario that could not run (a part is missing, set-up failed...)."""
    return Row(name, "-", goal, Status.NOT_RUN, why)


def _one_line(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Scorecard:
    """An ordered list of rows that formats itself as a fixed-width table."""

    def __init__(self, title: str, rows: Optional[Iterable[Row]] = None) -> None:
        self.title = title
        self.rows: List[Row] = list(rows or [])

    def add(self, row: Row) -> Row:
        """Append a row and return it."""
        self.rows.append(row)
        return row

    @property
    def passed(self) -> int:
        """Rows that ran and met their goal."""
        return sum(1 for r in self.rows if r.passed)

    @property
    def failed(self) -> int:
        """Rows that did not pass: failed or not run."""
        return len(self.rows) - self.passed

    def summary(self) -> str:
        """The last line, ``N passed, N failed`` (not-run rows are counted as failed and
        also reported separately)."""
        not_run_count = sum(1 for r in self.rows if r.status is Status.NOT_RUN)
        text = f"{self.passed} passed, {self.failed} failed"
        if not_run_count:
            text += f" ({not_run_count} not run)"
        return text

    def lines(self, details: bool = False) -> List[str]:
        """The table: header, one line per row (with an indented detail line for rows that
        did not pass, or for every row with ``details``), and the summary."""
        name_w = max([len("scenario")] + [len(r.name) for r in self.rows])
        fig_w = max([len("measured")] + [len(r.figure) for r in self.rows])
        goal_w = max([len("goal")] + [len(r.goal) for r in self.rows])
        out = [
            self.title,
            f"{'scenario':<{name_w}}  {'measured':<{fig_w}}  {'goal':<{goal_w}}  result",
            f"{'-' * name_w}  {'-' * fig_w}  {'-' * goal_w}  -------",
        ]
        for r in self.rows:
            out.append(
                f"{r.name:<{name_w}}  {r.figure:<{fig_w}}  {r.goal:<{goal_w}}  {r.status.value}"
            )
            if r.detail and (details or not r.passed):
                out.append(f"    {_one_line(r.detail, 400 if details else 160)}")
        out.append(self.summary())
        return out

    def render(self, details: bool = False) -> str:
        """The table as one string."""
        return "\n".join(self.lines(details)) + "\n"
