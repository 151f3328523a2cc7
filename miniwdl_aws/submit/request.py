"""The submitter's settings, parsed once (:func:`.args.parse`) into typed, frozen values that
each step of :meth:`.cli.Submitter.run` takes what it needs from.

- :class:`PassThrough`: the ``miniwdl run`` arguments, split into what is shipped and the rest
- :class:`SubmitRequest`: every setting after flags, ``[aws]`` options and environment variables
  are resolved (nothing checked against AWS yet)
- :class:`Infrastructure`: what the workflow job runs on, after the workflow queue's tags fill
  the gaps and every piece is checked to exist (:func:`.validate.resolve_infrastructure`)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Mapping, Optional, Tuple

__all__ = ["PassThrough", "SubmitRequest", "Infrastructure"]


@dataclass(frozen=True)
class PassThrough:
    """``miniwdl run`` arguments, split into what we ship and what we pass verbatim.

    :param uri: the WDL source as given (filename, URL, zip), or None with ``--self-test``
    :param input_file: the ``-i`` value when it names a file ("-" and literal JSON stay in ``rest``)
    :param path: ``-p/--path`` import directories
    :param rest: every other argument, in order, verbatim
    :param inputs: as ``miniwdl run`` parsed them (with ``input_arg``, ``empty``, ``none`` and
        ``task``), to check the inputs locally before submitting
    """

    uri: Optional[str]
    input_file: Optional[str] = None
    path: Tuple[str, ...] = ()
    rest: Tuple[str, ...] = ()
    inputs: Tuple[str, ...] = ()
    input_arg: Optional[str] = None
    empty: Tuple[str, ...] = ()
    none: Tuple[str, ...] = ()
    task: Optional[str] = None


@dataclass(frozen=True)
class SubmitRequest:
    """Everything the user asked for, defaults applied (flag, then ``[aws]`` option or its
    ``MINIWDL__AWS__*`` variable). Empty strings mean "not set"; the workflow queue's tags may
    still supply the task queues, access point, role and image."""

    passthrough: PassThrough
    # where the run goes
    workflow_queue: str
    task_queue: str
    task_queue_fallback: str
    fsap: str
    workflow_role: str
    image: str
    efs: bool
    mount: str
    dir: str
    # the workflow job
    name: Optional[str]
    cpu: str
    memory_gib: float
    pass_env: bool
    public_ip: bool
    config_tags: Mapping[str, str]  # [aws] job_tags
    flag_tags: Mapping[str, str]  # --tag, which win over config_tags
    timeout: Optional[int]
    # files
    s3upload: str
    delete_after: str
    stage: str
    kms_key: str
    # waiting
    wait: bool
    follow: bool
    self_test: bool
    poll_seconds: float
    # AWS
    region: str
    job_definition_prefix: str
    submit_recovery_seconds: float
    describe_error_wait: float
    # how often --wait refreshes the counts of the run's task jobs (ListJobs per task queue)
    progress_seconds: float = 10.0

    @property
    def tags(self) -> Dict[str, str]:
        """The user tags of every job of the run (``--tag`` over ``[aws] job_tags``)."""
        return {**self.config_tags, **self.flag_tags}


@dataclass(frozen=True)
class Infrastructure:
    """What the workflow job runs on, each piece checked to exist.

    :param fsap: the EFS access point ("" without EFS), and ``fs_id`` its file system
    :param workflow_role: job + execution role of the workflow job ("" when none is needed)
    """

    task_queue: str
    task_queue_fallback: str
    fsap: str
    fs_id: str
    workflow_role: str
    image: str
