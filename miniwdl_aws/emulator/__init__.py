"""A local AWS for tests and the demo: moto's server on 127.0.0.1 whose Batch *really runs jobs*.

Each Batch job's container command runs as a local subprocess (image ignored) in its own process
group, with identity EFS paths, live CloudWatch logs, capacity limits, retries, timeouts, faults
and strict validation. Needs the ``local`` extra (moto, flask, flask-cors). This package imports
nothing from the rest of ``miniwdl_aws`` and no production module imports it.

In process::

    from miniwdl_aws.emulator import Emulator, Stack

    emu = Emulator(efs_dir=None, port=0, dwell=0.02, strict=True, min_timeout=60, kill_grace=30.0)
    emu.start(); emu.stop()          # also a context manager; stop() kills every job process group
    emu.endpoint_url                 # "http://127.0.0.1:NNNNN"
    emu.region                       # "us-east-1"
    emu.env() -> Dict[str, str]      # AWS_ENDPOINT_URL, fake AWS_ACCESS_KEY_ID/SECRET,
                                     # AWS_DEFAULT_REGION, AWS_REGION, AWS_EC2_METADATA_DISABLED
    emu.bootstrap(efs_dir=None, task_max_vcpus=256, workflow_max_vcpus=64) -> Stack
    emu.reset()                      # kill jobs, wipe moto state, clear faults and stats
    emu.stats() -> {"calls": {"batch.SubmitJob": 12, "logs.GetLogEvents": 3, ...}}
    emu.reset_stats()
    emu.set_faults(spec); emu.clear_faults()
    emu.configure(dwell=..., strict=..., min_timeout=..., kill_grace=..., enforce_memory=...,
                  memory_poll=...)
    emu.active_jobs() -> List[str]   # ids of jobs not SUCCEEDED/FAILED
    emu.assert_no_active_jobs(timeout=10.0)
    emu.job_history(job_id) -> List[str]  # statuses passed through, in order
    emu.job_pids() -> List[int]      # pids (= process groups) of running job processes
    emu.terminate_all(reason)        # SIGKILL every active job, mark it FAILED

``Stack`` fields: ``task_queue``, ``task_queue_fallback`` (on-demand EC2), ``workflow_queue``
(Fargate; tagged ``DefaultTaskQueue``, ``DefaultTaskQueueFallback``, ``DefaultFsap``,
``WorkflowEngineRoleArn``), ``fsap`` (root access point), ``fs_id``, ``bucket``, ``efs_dir``,
``workflow_role_arn``, ``execution_role_arn``, ``task_role_arn``, ``subnet_id``,
``security_group_id``, ``vpc_id``, ``region``, and the three compute environment ARNs;
``Stack.miniwdl_env()`` gives ``MINIWDL__AWS__TASK_QUEUE``, ``MINIWDL__AWS__WORKFLOW_QUEUE``,
``MINIWDL__AWS__FSAP`` and ``MINIWDL__FILE_IO__ROOT``.

HTTP side channel on the same port: ``GET /_emulator/stats``, ``POST /_emulator/stats/reset``,
``GET|POST /_emulator/faults`` (POST replaces the spec; ``{}`` clears), ``GET|POST
/_emulator/config`` (dwell, strict, min_timeout, kill_grace, enforce_memory, memory_poll),
``GET /_emulator/jobs`` (``{"active": {job_id: status}}``).

Strict mode (the default) also makes ListJobs page like AWS (``maxResults`` default 100,
``nextToken``; a bare listing shows RUNNING jobs only).

Operation names (stats and faults) are ``<service>.<Operation>`` in botocore's spelling, e.g.
``batch.SubmitJob``, ``logs.GetLogEvents``, ``s3.PutObject``, ``efs.DescribeAccessPoints``. Every
call is counted, including faulted ones; the emulator's own bootstrap calls are not.

Fault spec (all keys optional; deterministic given ``seed``)::

    {"seed": 1,
     "throttle": {"batch.SubmitJob": 0.3, "batch.*": 0.3},  # fraction -> 429 TooManyRequests
     "tps": {"batch.SubmitJob": 50},                        # beyond N per rolling second -> 429
     "server_error": {"*": 0.05},                           # fraction -> HTTP 500/503
     "client_error": {"logs.GetLogEvents": {"code": "AccessDeniedException", "status": 400,
                      "calls": [3]}},                       # a 4xx for those calls (all: no calls)
     "spot": {"job_name": "regex", "fraction": 0.2, "attempts": [1, 2], "after": 0.2},
         # matching attempts FAIL after `after` s of RUNNING, no exitCode, statusReason
         # "Host EC2 (instance i-0123456789abcdef0) terminated."
     "oom": {"job_name": "regex", "fraction": 1, "attempts": [1], "after": 0.2},
         # like spot, but exitCode 137, container.reason "OutOfMemoryError: Container killed
         # due to memory usage", statusReason "Essential container in task exited"
     "cannot_pull": {"job_name": "regex"},  # FAILED at start: "CannotPullContainerError: ..."
     "log_lag": 0.5,                        # seconds before each line reaches CloudWatch
     "log_disorder": true,                  # random bursts, per stream still in order
     "s3_fail": {"key": "regex", "ops": ["PutObject", "UploadPart", "CompleteMultipartUpload"]},
     "latency": {"batch.*": 0.1},           # or a number: seconds added to every call
     "budget": {"batch.*": 50},             # token bucket per glob, shared by the ops it
                                            # matches (account-wide rate) -> 429
     "lost_response": {"batch.SubmitJob": 0.2},  # or a number: processed, then conn. reset
     "lost_request": {"batch.SubmitJob": 0.1},   # or a number: conn. reset, not processed
     "visibility_lag": 1.0,                 # s a new job is missing from Describe/ListJobs
     "log_token_ttl": 60}                   # s a GetLogEvents token lives (default 24 h)

Command line: ``python -m miniwdl_aws.emulator serve --help``. See README.md next to this file.
"""

from __future__ import annotations

from ._bootstrap import Stack
from ._emulator import Emulator
from ._exports import format_exports, parse_exports
from ._images import Image, from_dockerfile
from ._profiles import PROFILES, with_profile

__all__ = [
    "PROFILES",
    "Emulator",
    "Image",
    "Stack",
    "format_exports",
    "from_dockerfile",
    "parse_exports",
    "with_profile",
]
