"""Running jobs on AWS Batch: pure request builders, the job-definition cache, the adaptive
submitter, SubmitJob without twins, the status poller, outcome classification and the
infrastructure checks. Its AWS calls go through :mod:`miniwdl_aws.aws`. It takes plain values
and imports neither ``WDL`` (beyond the shared log helper) nor ``miniwdl_aws.config``."""
