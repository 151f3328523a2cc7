"""miniwdl container backends that run each WDL task as an AWS Batch job on a shared filesystem.

- ``aws_batch_job`` (:class:`BatchJob`): task jobs mount an EFS access point at ``[file_io] root``,
  the same path the miniwdl runner uses, so no file is copied.
- ``aws_batch_job_no_efs`` (:class:`BatchJobNoEFS`): the compute environment already mounts a
  shared filesystem (e.g. FSx for Lustre) at ``[file_io] root``; jobs use it as a host volume.

Modules, one job each:

- :mod:`.services`: the process-wide AWS plumbing (clients, job-definition cache, SubmitJob
  pacer, status poller), built once per process;
- :mod:`.runtime_keys`: the task ``runtime`` keys read beyond miniwdl's own;
- :mod:`.request`: pure builders of the task job's requests from plain values;
- :mod:`.attempt`: the lifecycle of one task's jobs (submit without twins, follow, no orphans);
- :mod:`.container`: the miniwdl glue, the ``TaskContainer`` subclasses.
"""

from .container import BatchJob, BatchJobBase, BatchJobNoEFS
from .services import forget_services

__all__ = ["BatchJob", "BatchJobBase", "BatchJobNoEFS", "forget_services"]
