"""When an AWS Batch job queue can take jobs, and when a task queue can run task jobs: the rules
the backend (``[aws] task_queue`` checks in ``global_init``), the submitter (its workflow and task
queues) and ``doctor`` all apply, so that none of them accepts a queue another refuses.

- :func:`queue_problems`: the queue itself (its DescribeJobQueues entry), for every queue;
- :func:`task_environment_problems`: a task queue's compute environments (their
  DescribeComputeEnvironments entries), for task queues only (the workflow queue is Fargate by
  design, and ``doctor`` checks that separately).

Pure (descriptions in, reasons out) and stdlib-only, so every part may import it.
"""

from __future__ import annotations

from typing import Any, List, Mapping, Optional, Sequence

__all__ = ["BROKEN_STATUSES", "queue_problems", "task_environment_problems"]

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


def _is_fargate(ce: Mapping[str, Any]) -> bool:
    return str((ce.get("computeResources") or {}).get("type", "")).startswith("FARGATE")


def task_environment_problems(envs: Sequence[Mapping[str, Any]]) -> List[str]:
    """Why a task queue whose compute environments are ``envs`` (entries of
    DescribeComputeEnvironments; empty when none was found) can never run a task job, each
    reason a few words; empty when it can.

    - ``runs on Fargate only (task jobs need EC2 or Spot)``: task job definitions are EC2
      jobs, which Batch does not place on Fargate;
    - ``no ENABLED and VALID compute environment (ce DISABLED/VALID, ...)``: its jobs would wait
      RUNNABLE forever. An environment being created or updated counts as usable (as for
      queues, :data:`BROKEN_STATUSES`)."""
    problems = []
    # Batch refuses a queue mixing Fargate and EC2 environments, so "all" is also "any"; "all"
    # keeps a queue that somehow has both from being refused for its Fargate part.
    if envs and all(_is_fargate(ce) for ce in envs):
        problems.append("runs on Fargate only (task jobs need EC2 or Spot)")
    usable = [
        ce
        for ce in envs
        if ce.get("state") == "ENABLED" and ce.get("status") not in BROKEN_STATUSES
    ]
    if not usable:
        states = ", ".join(
            f"{ce.get('computeEnvironmentName')} {ce.get('state')}/{ce.get('status')}"
            for ce in envs
        )
        problems.append(f"no ENABLED and VALID compute environment ({states or 'none found'})")
    return problems
