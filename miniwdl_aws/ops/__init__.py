"""Operability tools: ``miniwdl-aws doctor``, ``runs``, ``cleanup``, the run summary and
SageMaker Studio detection.

These modules talk to AWS through :class:`miniwdl_aws._util.AwsClients` only; they find a run's
jobs by the naming contract of :mod:`miniwdl_aws.naming` (job-name prefix and tags), so they work
without the process that started the run, e.g. after it was killed.
"""
