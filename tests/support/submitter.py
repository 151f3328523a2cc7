"""The submitter's command line, as the tests and the scenarios run it."""

from __future__ import annotations

import os
from typing import List, Optional, Sequence

from .procs import BIN

SUBMITTER = os.path.join(BIN, "miniwdl_submit_awsbatch")
# The submitter needs a workflow image: a clearly local name, which the local AWS's image table
# maps to this repository's Dockerfile, so the workflow job gets its ENV and miniwdl-aws.cfg.
WORKFLOW_IMAGE = "miniwdl-aws-workflow:local"
WORKFLOW_DOCKERFILE = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "Dockerfile"
)
WORKFLOW_IMAGE_SPEC = f"{WORKFLOW_IMAGE}={WORKFLOW_DOCKERFILE}"  # serve --image


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
