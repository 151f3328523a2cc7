"""Reliability scorecard: every fault-injection and bad-input scenario at full size, on the
local AWS, one line per figure with its goal, ending with ``N passed, N failed``.

    python bench/reliability.py                 # full sizes (200-task scatter...), a few minutes
    python bench/reliability.py --ci            # the CI sizes
    python bench/reliability.py --only throttle,sigterm
    python bench/reliability.py --markdown bench/RELIABILITY.md   # also append the card there

The scorecard and its scenarios are the package ``tests.reliability`` (shared with the CI tests;
see ``tests/reliability/card.py``). This script runs it as ``python -m tests.reliability`` from
the repository root, where Python puts the root on the import path itself, so nothing here edits
``sys.path``. Exit status is 0 only when every row passed; a row whose product part is missing is
"not run", never passed.
"""

from __future__ import annotations

import os
import sys
from typing import List

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_PATH_OPTIONS = ("--markdown",)  # options naming a file: relative to the caller's folder


def _absolute(argv: List[str]) -> List[str]:
    """``argv`` with the files it names made absolute (the card runs from the repo root)."""
    out: List[str] = []
    take = False
    for arg in argv:
        if take:
            arg, take = os.path.abspath(arg), False
        elif arg in _PATH_OPTIONS:
            take = True
        elif arg.startswith(tuple(f"{o}=" for o in _PATH_OPTIONS)):
            option, _, value = arg.partition("=")
            arg = f"{option}={os.path.abspath(value)}"
        out.append(arg)
    return out


def main(argv: List[str]) -> None:
    """Replace this process with ``python -m tests.reliability ARGV`` run from the repo root."""
    args = _absolute(argv)
    os.chdir(REPO)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", "tests.reliability", *args])


if __name__ == "__main__":
    main(sys.argv[1:])
