"""The AWS Batch layer: pure request builders, the API wrapper, the job-definition cache, the
adaptive submitter and the status poller. It takes plain values and imports neither ``WDL``
(beyond the shared log helper) nor ``miniwdl_aws.config``."""
