"""Credential leak scan: run with marked credentials, then look for them everywhere AWS or a
user could see them: job definitions, jobs (container env, overrides), tags, CloudWatch Logs,
S3 objects, the run directory's files and the processes' own output.
"""

from __future__ import annotations

import json
import os
import secrets
from typing import Dict, Iterable, List

from tests.support.logs import stream_messages

from .harness import LocalAws


def marked_credentials() -> Dict[str, str]:
    """Fresh, unmistakable fake credentials (a hit can only come from our processes)."""
    return {
        "AWS_ACCESS_KEY_ID": "ASIARELTEST" + secrets.token_hex(5).upper()[:9],
        "AWS_SECRET_ACCESS_KEY": "relSecret" + secrets.token_urlsafe(24),
        "AWS_SESSION_TOKEN": "relToken" + secrets.token_urlsafe(90),
    }


def _hits(where: str, text: str, creds: Dict[str, str]) -> List[str]:
    return [f"{name} in {where}" for name, value in creds.items() if value in text]


def scan_aws(aws: LocalAws, creds: Dict[str, str]) -> List[str]:
    """Hits in Batch (job definitions, jobs, tags), CloudWatch Logs and S3."""
    hits: List[str] = []
    batch = aws.client("batch")
    for page in batch.get_paginator("describe_job_definitions").paginate():
        for jd in page["jobDefinitions"]:
            hits += _hits(f"job definition {jd['jobDefinitionName']}", json.dumps(jd), creds)
            tags = batch.list_tags_for_resource(resourceArn=jd["jobDefinitionArn"]).get("tags")
            hits += _hits(f"tags of {jd['jobDefinitionName']}", json.dumps(tags), creds)
    for job in aws.all_jobs():
        hits += _hits(f"job {job['jobName']}", json.dumps(job, default=str), creds)
        tags = batch.list_tags_for_resource(resourceArn=job["jobArn"]).get("tags")
        hits += _hits(f"tags of job {job['jobName']}", json.dumps(tags), creds)
    logs = aws.client("logs")
    for page in logs.get_paginator("describe_log_groups").paginate():
        for group in page["logGroups"]:
            name = group["logGroupName"]
            for spage in logs.get_paginator("describe_log_streams").paginate(logGroupName=name):
                for stream in spage["logStreams"]:
                    text = "\n".join(stream_messages(stream["logStreamName"], name, logs))
                    hits += _hits(f"log {name}/{stream['logStreamName']}", text, creds)
    s3 = aws.client("s3")
    for bucket in s3.list_buckets().get("Buckets", []):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket["Name"]):
            for obj in page.get("Contents", []):
                body = s3.get_object(Bucket=bucket["Name"], Key=obj["Key"])["Body"].read()
                text = body.decode("utf-8", "replace")
                hits += _hits(f"s3://{bucket['Name']}/{obj['Key']}", text, creds)
    return hits


def scan_files(root: str, creds: Dict[str, str], skip: Iterable[str] = ()) -> List[str]:
    """Hits in every file under ``root`` (logs, error.json, task stdout/stderr, command, the
    processes' captured output), except files named in ``skip`` (the emulator's own log: AWS
    itself legitimately sees the caller's access key)."""
    hits: List[str] = []
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            if os.path.islink(path) or name in skip:
                continue
            try:
                with open(path, "rb") as f:
                    text = f.read().decode("utf-8", "replace")
            except OSError:
                continue
            hits += _hits(os.path.relpath(path, root), text, creds)
    return hits
