"""Operability tools: ``miniwdl-aws doctor``, ``runs``, ``cleanup``, ``logs`` and the run
summary.

- :mod:`.cli`: the ``miniwdl-aws`` console script (argument parsing, output, exit status)
- :mod:`.doctor` with :mod:`.checks`, :mod:`.checks_efs`, :mod:`.checks_iam`: preflight checks
- :mod:`.runs`: find, list and terminate the Batch jobs of runs
- :mod:`.logs`: a run's workflow log, or its calls' task logs, after the fact or followed
- :mod:`.summary`: the end-of-run summary and the miniwdl plugins that write it

These modules talk to AWS through the call layer :mod:`miniwdl_aws.aws` only; they find a run's
jobs by the naming contract of :mod:`miniwdl_aws.naming` (job-name prefix and tags), so they work
without the process that started the run, e.g. after it was killed.
"""
