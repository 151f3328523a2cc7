"""The two sides compared and the settings profiles each is measured with.

A *side* is a virtual environment whose ``bin`` holds ``miniwdl`` with one miniwdl-aws installed
(ours: the repository's venv; theirs: miniwdl-aws 0.12.2 from PyPI). A *profile* is a set of
``MINIWDL__AWS__*`` variables: ``default`` sets none; ``tuned`` sets each side's fastest
documented settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List

OURS = "ours"
THEIRS = "0.12.2"
# not a runner: a minimal boto3 client pushing the same jobs through the emulator (floor.py)
FLOOR = "boto3-floor"

# miniwdl-aws 0.12.2: its defaults are submit_period 1.0 s and describe_period 1.0 s; these are
# the fastest settings it documents (and retry_wait 0 instead of 20 s before each retry).
THEIRS_TUNED = {
    "MINIWDL__AWS__SUBMIT_PERIOD": "0.1",
    "MINIWDL__AWS__DESCRIBE_PERIOD": "0.5",
    "MINIWDL__AWS__RETRY_WAIT": "0",
}

# Ours (miniwdl_aws/config.py): the default submit_period (0.025 s, 40/s) is already the fastest
# documented setting, since 1/submit_period + submit_burst - 1 must stay below AWS's 50 TPS
# SubmitJob limit with a margin; describe_period 0.5 s is the same poll period as 0.12.2 tuned;
# retry_wait 0 as above.
OURS_TUNED = {
    "MINIWDL__AWS__SUBMIT_PERIOD": "0.025",
    "MINIWDL__AWS__DESCRIBE_PERIOD": "0.5",
    "MINIWDL__AWS__RETRY_WAIT": "0",
}

# Ours with [aws] array_jobs (issue 17) and its shipped window and minimum size: what a user
# who turns the option on gets.
OURS_ARRAYS = {"MINIWDL__AWS__ARRAY_JOBS": "true"}
# ... and with a 1 s window instead of 0.5 s: fewer, larger arrays (fewer SubmitJob calls of the
# account's budget) against up to 0.5 s more waiting per task; measures that trade-off.
OURS_ARRAYS_1S = dict(OURS_ARRAYS, MINIWDL__AWS__ARRAY_JOB_WINDOW="1.0")

PROFILES: Dict[str, Dict[str, Dict[str, str]]] = {
    OURS: {"default": {}, "tuned": OURS_TUNED, "arrays": OURS_ARRAYS, "arrays1s": OURS_ARRAYS_1S},
    THEIRS: {"default": {}, "tuned": THEIRS_TUNED},
    FLOOR: {"min": {}},
}


@dataclass(frozen=True)
class Side:
    """One implementation under test.

    :param name: ``ours`` or ``0.12.2``
    :param bin_dir: the venv ``bin`` holding its ``miniwdl`` (put first on PATH for its runs)
    """

    name: str
    bin_dir: Path

    @property
    def miniwdl(self) -> Path:
        """Its ``miniwdl`` executable."""
        return self.bin_dir / "miniwdl"


@dataclass(frozen=True)
class Profile:
    """A named settings profile: environment variables added to the runner's environment."""

    name: str
    env: Dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        """``name (K=V ...)`` for reports."""
        if not self.env:
            return f"{self.name} (no [aws] settings)"
        return f"{self.name} ({' '.join(f'{k}={v}' for k, v in sorted(self.env.items()))})"


def profiles_for(side: str, names: List[str]) -> List[Profile]:
    """The profiles ``names`` of ``side``, in that order; a name the side has not (``arrays``
    for 0.12.2) is skipped, an unknown name is an error."""
    known = {n for profiles in PROFILES.values() for n in profiles}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise KeyError(
            f"unknown profile(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})"
        )
    return [Profile(name, dict(PROFILES[side][name])) for name in names if name in PROFILES[side]]
