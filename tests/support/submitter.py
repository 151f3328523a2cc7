"""The submitter's command line, as the tests and the scenarios run it."""

from __future__ import annotations

import os
from typing import List, Optional, Sequence

from .procs import BIN

SUBMITTER = os.path.join(BIN, "miniwdl_submit_awsbatch")
# The submitter needs a workflow image and the local AWS ignores images: a clearly local name.
WORKFLOW_IMAGE = "miniwdl-aws-workflow:local"


def submit_cmd(
    args: Sequence[str],
    poll_seconds: Optional[float] = None,
    mount: Optional[str] = None,
    image: Optional[str] = WORKFLOW_IMAGE,
) -> List[str]:
    """``miniwdl_submit_awsbatch ARGS [--image IMAGE] [--mount MOUNT] [--poll-seconds S]``.

    :param poll_seconds: the submitter's poll period (a hidden test knob; None: its default)
    :param mount: where the EFS is mounted on this machine (the emulator's EFS stand-in)
    :param image: the workflow image (None, or ``--image`` in ``args``: none added)
    """
    cmd = [SUBMITTER, *args]
    if image is not None and "--image" not in args:
        cmd += ["--image", image]
    if mount is not None:
        cmd += ["--mount", mount]
    if poll_seconds is not None:
        cmd += ["--poll-seconds", f"{poll_seconds:g}"]
    return cmd
