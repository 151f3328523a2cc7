"""The AWS call layer: the only code of miniwdl-aws that imports boto3/botocore or calls a client.

- :mod:`.clients`: :class:`~.clients.AwsClients`, the process's shared, typed boto3 clients (one
  session, one botocore ``Config``), and :func:`~.clients.detect_region`
- :mod:`.errors`: the one translation of botocore/boto3 exceptions into
  :class:`~miniwdl_aws.errors.AwsCallError`, :class:`~miniwdl_aws.errors.Throttled` and
  :class:`~miniwdl_aws.errors.Ambiguous`, and :func:`~.errors.is_retryable`
- :mod:`.calls`: per-operation call counting shared by every service module
- :mod:`.retry`: the retry policies (which calls botocore retries, which we do, which we pace)
- one module per service, with exactly the calls the product makes: :mod:`.batch`, :mod:`.efs`,
  :mod:`.ec2`, :mod:`.iam`, :mod:`.logs`, :mod:`.s3`, :mod:`.sts`, :mod:`.sagemaker`

Callers get plain ``dict``/``list`` values back and see only :mod:`miniwdl_aws.errors`
exceptions, so no module outside this package needs botocore (``tests/test_imports.py``).
"""
