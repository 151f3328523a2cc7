"""``miniwdl_submit_awsbatch``: launch ``miniwdl run`` itself as a Batch job on a Fargate
*workflow queue*, follow it, and upload its outputs to S3.

Modules (one job each):

- :mod:`.request`: the frozen values the submitter's steps pass along (request, infrastructure)
- :mod:`.args`: command-line grammar (ours, plus ``miniwdl run``'s own for pass-through), parsed
  once into a :class:`~.request.SubmitRequest`
- :mod:`.validate`: every check that must pass before anything is submitted, and the
  infrastructure (queues and their tags, access point, buckets, image) resolved from them
- :mod:`.shipping`: local WDL (+imports) and inputs JSON → inline payload or S3-staged objects
- :mod:`.job`: the workflow job's environment, command, job definition and SubmitJob request
  (pure builders)
- :mod:`.follow`: CloudWatch Logs follower (GetLogEvents + forward tokens), from
  :mod:`miniwdl_aws.logfollow` (shared with ``miniwdl-aws logs``)
- :mod:`.wait`: waiting for the workflow job, streaming its log, exit-code mapping
- :mod:`.progress`: the counts of the run's task jobs shown while waiting
- :mod:`.outcome`: what a finished run says: miniwdl's error in one paragraph, where things are
- :mod:`.cli`: ``main(argv)``, the submitter
- :mod:`.wrapper`: ``miniwdl-aws-workflow``, the program inside the workflow job
- :mod:`.upload`: checksum-verified S3 upload into the run's own folder, ``outputs.json`` rewrite
- :mod:`.rundir`: the run's own directory on EFS, the only thing ``--delete-after`` removes
"""

from miniwdl_aws.logfollow import END_OF_LOG

__all__ = ["END_OF_LOG"]
