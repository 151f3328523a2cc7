"""The reliability scenarios. Each one drives real processes against a local AWS with faults,
measures one figure from what AWS and the file system show afterwards, and returns scorecard
rows. The CI tests call them with small sizes; ``bench/reliability.py`` with the full ones.

Every scenario takes a freshly bootstrapped :class:`~..harness.LocalAws` (one per scenario, so
call counts and job lists belong to it alone) and leaves no job active; ``endpoint_restart``
takes a scratch folder instead, as it starts its own local AWS process.

Modules: :mod:`.faults` (throttling, spot, transient errors, outage, lost responses),
:mod:`.stops` (signals, TerminateJob, SIGKILL + cleanup, endpoint restart), :mod:`.submitter`
(``--follow``, S3 failure), :mod:`.lost_submit` (the submitter's SubmitJob answer lost),
:mod:`.data_safety` (``--delete-after``, shared S3 folders, KMS buckets),
:mod:`.inputs` (bad inputs, credentials), :mod:`._common` (drivers).
"""

from __future__ import annotations

import dataclasses
import signal
from typing import Callable, List, Optional, Tuple

from ..harness import LocalAws, part_missing
from ..scorecard import Row
from ._common import BACKEND, EMULATOR, SUBMITTER, WRAPPER
from .data_safety import existing_dir, kms_upload, shared_folder
from .faults import (
    fallback_forced,
    lost_responses,
    outage,
    run_outage,
    spot,
    throttling,
    transient,
)
from .inputs import bad_input_table, secrets
from .lost_submit import lost_submit
from .stops import (
    endpoint_restart,
    follow_interrupt,
    sigkill_cleanup,
    signal_stop,
    workflow_kill_cleanup,
    workflow_terminate,
)
from .submitter import follow, s3_failure

__all__ = [
    "BACKEND",
    "CI",
    "EMULATOR",
    "FULL",
    "PLAN",
    "SUBMITTER",
    "WRAPPER",
    "Sizes",
    "bad_input_table",
    "endpoint_restart",
    "existing_dir",
    "fallback_forced",
    "follow",
    "follow_interrupt",
    "kms_upload",
    "lost_responses",
    "lost_submit",
    "outage",
    "part_missing",
    "run_outage",
    "s3_failure",
    "secrets",
    "shared_folder",
    "sigkill_cleanup",
    "signal_stop",
    "spot",
    "throttling",
    "transient",
    "workflow_kill_cleanup",
    "workflow_terminate",
]


@dataclasses.dataclass(frozen=True)
class Sizes:
    """How big each scenario is. :data:`FULL` is the issue's figure; :data:`CI` the fast variant
    that asserts the same goals."""

    throttle_tasks: int = 200
    spot_tasks: int = 100
    signal_tasks: int = 20
    kill_tasks: int = 20
    transient_tasks: int = 30
    follow_tasks: int = 10


FULL = Sizes()
CI = Sizes(
    throttle_tasks=30,
    spot_tasks=20,
    signal_tasks=6,
    kill_tasks=6,
    transient_tasks=10,
    follow_tasks=4,
)

Runner = Callable[[LocalAws, Sizes], List[Row]]

# The card, in order: (key for --only, runner). ``restart`` has no runner here: it starts its
# own local AWS process (see ``bench/reliability.py``).
PLAN: List[Tuple[str, Optional[Runner]]] = [
    ("throttle", lambda aws, z: throttling(aws, z.throttle_tasks)),
    ("spot", lambda aws, z: spot(aws, z.spot_tasks)),
    ("follow", lambda aws, z: follow(aws, z.follow_tasks)),
    ("sigint", lambda aws, z: signal_stop(aws, signal.SIGINT, z.signal_tasks)),
    ("sigterm", lambda aws, z: signal_stop(aws, signal.SIGTERM, z.signal_tasks)),
    ("sigterm_queued", lambda aws, z: signal_stop(aws, signal.SIGTERM, z.signal_tasks, capacity=4)),
    ("wfterm", lambda aws, z: workflow_terminate(aws, z.signal_tasks)),
    ("ctrlc", lambda aws, z: follow_interrupt(aws)),
    ("sigkill", lambda aws, z: sigkill_cleanup(aws, z.kill_tasks)),
    ("wfkill", lambda aws, z: workflow_kill_cleanup(aws, z.kill_tasks)),
    ("transient", lambda aws, z: transient(aws, z.transient_tasks)),
    ("run_outage", lambda aws, z: run_outage(aws)),
    # not in CI (a minute long): AWS API brownouts of a minute happen; jobs run on regardless
    ("long_outage", lambda aws, z: run_outage(aws, seconds=60.0)),
    ("outage", lambda aws, z: outage(aws)),
    ("lost", lambda aws, z: lost_responses(aws, z.transient_tasks)),
    ("s3fail", lambda aws, z: s3_failure(aws)),
    ("restart", None),
    ("bad_inputs", lambda aws, z: bad_input_table(aws)),
    ("secrets", lambda aws, z: secrets(aws)),
    ("existing_dir", lambda aws, z: existing_dir(aws)),
    ("shared_folder", lambda aws, z: shared_folder(aws, z.follow_tasks)),
    ("kms", lambda aws, z: kms_upload(aws, z.follow_tasks)),
    ("lost_submit30", lambda aws, z: lost_submit(aws, 0.3)),
    ("lost_submit50", lambda aws, z: lost_submit(aws, 0.5)),
    # connections reset before AWS: every lost request waits out the whole lookup window (30 s)
    ("lost_submit_unsent", lambda aws, z: lost_submit(aws, 0.3, after=False)),
    # the window's length cannot change this outcome; 5 s keeps the row short
    ("lost_submit_unknown", lambda aws, z: lost_submit(aws, 1.0, 2, window=5, lookups_fail=True)),
]
