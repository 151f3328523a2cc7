"""The credential scan finds what it looks for (a scan that cannot find anything proves nothing)."""

from __future__ import annotations

import os
from typing import Any

from .harness import LocalAws
from .secrets_scan import marked_credentials, scan_aws, scan_files


def test_scan_finds_planted_credentials(emulator: Any, aws: Any, tmp_path: Any) -> None:
    local = LocalAws.in_process(emulator, aws, str(tmp_path))
    creds = marked_credentials()
    batch = local.client("batch")
    jd = batch.register_job_definition(
        jobDefinitionName="leaky",
        type="container",
        containerProperties={
            "image": "ubuntu:22.04",
            "command": ["sh", "-c", "echo $AWS_SESSION_TOKEN"],
            "resourceRequirements": [
                {"type": "VCPU", "value": "1"},
                {"type": "MEMORY", "value": "1024"},
            ],
        },
        tags={"leak": creds["AWS_ACCESS_KEY_ID"]},
    )
    job = batch.submit_job(
        jobName="leaky",
        jobQueue=aws.task_queue,
        jobDefinition=jd["jobDefinitionArn"],
        containerOverrides={
            "environment": [{"name": "AWS_SESSION_TOKEN", "value": creds["AWS_SESSION_TOKEN"]}]
        },
    )
    emulator.assert_no_active_jobs(timeout=60)
    with open(os.path.join(str(tmp_path), "run.log"), "w") as f:
        f.write(f"secret={creds['AWS_SECRET_ACCESS_KEY']}\n")

    hits = scan_aws(local, creds)
    assert "AWS_ACCESS_KEY_ID in tags of leaky" in hits
    assert "AWS_SESSION_TOKEN in job leaky" in hits
    assert any(h.startswith("AWS_SESSION_TOKEN in log /aws/batch/job/") for h in hits), hits
    assert job["jobId"]
    assert scan_files(str(tmp_path), creds) == ["AWS_SECRET_ACCESS_KEY in run.log"]
    assert scan_files(str(tmp_path), creds, skip=("run.log",)) == []
