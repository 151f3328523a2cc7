"""When an AWS Batch job queue can take jobs: the one rule the backend (``[aws] task_queue``
checks in ``global_init``), the submitter (its workflow and task queues) and ``doctor`` apply, so
that none of them accepts a queue another refuses.

Pure (a DescribeJobQueues entry in, reasons out) and stdlib-only, so every part may import it.
"""

from __future__ import annotations

from typing import Any, List, Mapping, Optional

__all__ = ["BROKEN_STATUSES", "queue_problems"]

# A queue (or compute environment) being created or updated takes jobs once Batch is done;
# these never will without help.
BROKEN_STATUSES = ("INVALID", "DELETING", "DELETED")


def queue_problems(queue: Optional[Mapping[str, Any]]) -> List[str]:
    """Why the job queue described by ``queue`` (an entry of DescribeJobQueues, or None when it
    was not found) cannot run jobs, each reason a few words (``state DISABLED``, ``status INVALID
    (reason)``, ``no compute environment``); empty when it can."""
    if queue is None:
        return ["not found"]
    problems = []
    if queue.get("state") != "ENABLED":
        problems.append(f"state {queue.get('state')}")
    status = queue.get("status")
    if status in BROKEN_STATUSES:
        reason = str(queue.get("statusReason") or "").strip()
        problems.append(f"status {status}" + (f" ({reason})" if reason else ""))
    if not queue.get("computeEnvironmentOrder"):
        problems.append("no compute environment")
    return problems
