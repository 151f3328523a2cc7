"""Data safety end to end on the local AWS (real submitter, workflow job, ``miniwdl run``, S3):
a run never deletes, overwrites or mixes data that is not its own.

Each test is one of the command lines that lost data in miniwdl-aws before its own directory and
S3 folder were introduced (issue 11), and fails on that code.
"""

from __future__ import annotations

import base64
import concurrent.futures
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest

from .helpers import EXAMPLES, ROOT, client, run_id_of, stack_env, submit

HELLO = str(EXAMPLES / "hello_scatter.wdl")
HELLO_INPUTS = str(EXAMPLES / "hello_scatter.inputs.json")
NAMES = json.loads(Path(HELLO_INPUTS).read_text())["hello_scatter.names"]


def _objects(bucket: str, prefix: str) -> Dict[str, Dict[str, Any]]:
    s3 = client("s3")
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return {o["Key"]: o for page in pages for o in page.get("Contents", [])}


def _get(bucket: str, key: str) -> bytes:
    return client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()


def _check_outputs(bucket: str, folder_key: str) -> None:
    """The run's outputs.json names files in its own folder, each with the right content."""
    outputs = json.loads(_get(bucket, f"{folder_key}outputs.json"))
    assert outputs["hello_scatter.lines"] == len(NAMES)
    for name, uri in zip(NAMES, outputs["hello_scatter.greetings"]):
        assert uri.startswith(f"s3://{bucket}/{folder_key}"), uri
        assert _get(bucket, uri[len(f"s3://{bucket}/") :]) == f"Hello, {name}!\n".encode()


def _workflow_jobs(aws: Any) -> List[str]:
    res = client("batch").list_jobs(
        jobQueue=aws.workflow_queue, filters=[{"name": "JOB_NAME", "values": ["*"]}]
    )
    return [j["jobId"] for j in res["jobSummaryList"]]


def _earlier_run(efs: Path) -> Path:
    """A run of yesterday in the default --dir, whose outputs were never uploaded."""
    out = efs / "miniwdl_run" / "20261128_120000_earlier" / "out"
    out.mkdir(parents=True)
    (out / "result.txt").write_text("only copy\n")
    return out / "result.txt"


@pytest.mark.parametrize("target", ["sandbox", "miniwdl_run"])
def test_exact_dir_into_an_existing_directory_refuses_delete_after(aws: Any, target: str) -> None:
    """``--dir <mount>/sandbox/. --delete-after always`` deleted the user's sandbox;
    ``--dir <mount>/miniwdl_run/. --delete-after success`` every earlier run. Now: one line,
    exit 2, nothing submitted, nothing touched."""
    efs = Path(aws.efs_dir)
    earlier = _earlier_run(efs)
    (efs / "sandbox").mkdir()
    (efs / "sandbox" / "mine.txt").write_text("put there before the run\n")
    args = [HELLO, "-i", HELLO_INPUTS, "--dir", f"{efs / target}/.", "--wait",
            "--s3upload", f"s3://{aws.bucket}/x/", "--delete-after", "always"]  # fmt: skip
    res = submit(aws, args)
    assert res.returncode == 2, res.stderr[-2000:]
    assert "already exists" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert _workflow_jobs(aws) == []
    assert (efs / "sandbox" / "mine.txt").read_text() == "put there before the run\n"
    assert earlier.read_text() == "only copy\n"


def test_the_workflow_job_refuses_it_too(aws: Any, tmp_path: Path) -> None:
    """Where the laptop cannot see the mount, the workflow job's wrapper refuses before running
    miniwdl: exit 2, the user's directory untouched, the error in the run's own S3 folder."""
    efs = Path(aws.efs_dir)
    (efs / "sandbox").mkdir()
    (efs / "sandbox" / "mine.txt").write_text("keep\n")
    env = stack_env(aws)
    env["MINIWDL__FILE_IO__ROOT"] = str(efs)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")  # miniwdl
    cmd = [sys.executable, "-m", "miniwdl_aws.submit.wrapper", "--wdl", HELLO, "--dir",
           f"{efs}/sandbox/.", "--s3upload", f"s3://{aws.bucket}/w", "--delete-after", "always",
           "--", "-i", HELLO_INPUTS]  # fmt: skip
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert res.returncode == 2, res.stderr[-2000:]
    assert "already exists" in res.stderr
    assert sorted(os.listdir(efs / "sandbox")) == ["mine.txt"]
    keys = list(_objects(aws.bucket, "w/"))
    assert len(keys) == 1 and keys[0].endswith("/error.json") and keys[0].startswith("w/mw")


def test_concurrent_runs_into_one_folder_keep_their_own_results(aws: Any) -> None:
    """Two runs at once with the same ``--s3upload s3://bucket/same/`` and ``--delete-after
    success``: the second overwrote the first's outputs.json and files, and each deleted only...
    Now each run has its own S3 folder and EFS directory, and deletes only that directory."""
    efs = Path(aws.efs_dir)
    earlier = _earlier_run(efs)
    args = [HELLO, "-i", HELLO_INPUTS, "--wait", "--s3upload", f"s3://{aws.bucket}/same/",
            "--delete-after", "success"]  # fmt: skip
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: submit(aws, args), range(2)))
    for res in results:
        assert res.returncode == 0, res.stderr[-3000:]
    run_ids = [run_id_of(res) for res in results]
    assert run_ids[0] != run_ids[1]
    for rid, res in zip(run_ids, results):
        _check_outputs(aws.bucket, f"same/{rid}/")
        assert not (efs / "miniwdl_run" / rid).exists()  # its own directory, deleted
        assert f"this run's S3 folder: s3://{aws.bucket}/same/{rid}/" in res.stderr
    assert {k.split("/")[1] for k in _objects(aws.bucket, "same/")} == set(run_ids)
    assert earlier.read_text() == "only copy\n"  # an earlier run, never uploaded, is kept


@pytest.mark.parametrize("algorithm", ["aws:kms", "aws:kms:dsse"])
def test_upload_verifies_and_deletes_on_a_kms_bucket(aws: Any, algorithm: str) -> None:
    """A bucket with default SSE-KMS (DSSE-KMS) encryption, whose ETags are not MD5s: every
    object verifies by its SHA-256, the run exits 0 and its directory is deleted."""
    bucket = "kms-" + algorithm.replace(":", "-")
    s3 = client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": algorithm}}]
        },
    )
    res = submit(aws, [HELLO, "-i", HELLO_INPUTS, "--wait", "--s3upload", f"s3://{bucket}/k/",
                       "--delete-after", "success"])  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    rid = run_id_of(res)
    _check_outputs(bucket, f"k/{rid}/")
    assert not (Path(aws.efs_dir) / "miniwdl_run" / rid).exists()
    objects = _objects(bucket, f"k/{rid}/")
    assert f"k/{rid}/workflow.log" in objects
    for key in objects:
        head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
        body = _get(bucket, key)
        assert head["ServerSideEncryption"] == algorithm
        assert head["ETag"].strip('"') != hashlib.md5(body).hexdigest()  # as on AWS
        assert head["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(body).digest()).decode()


def test_large_wdl_is_staged_on_a_kms_bucket(aws: Any, tmp_path: Path) -> None:
    """Staging (a WDL too large to ship inline) verifies on a KMS bucket too, with the explicit
    encryption header a bucket policy may demand."""
    bucket = "kms-staging"
    client("s3").create_bucket(Bucket=bucket)
    client("s3").put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]
        },
    )
    filler = "\n".join("# " + os.urandom(48).hex() for _ in range(200))
    big = tmp_path / "big.wdl"
    big.write_text(f"version 1.0\n{filler}\nworkflow big {{\n  output {{ Int n = 7 }}\n}}\n")
    env = stack_env(aws, MINIWDL__AWS__S3_UPLOAD_KMS_KEY="alias/genomics")
    res = submit(aws, [str(big), "--wait", "--s3upload", f"s3://{bucket}/big/"], env)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "staged s3://" in res.stderr
    rid = run_id_of(res)
    assert json.loads(_get(bucket, f"big/{rid}/outputs.json")) == {"big.n": 7}
    head = client("s3").head_object(Bucket=bucket, Key=f"big/{rid}/outputs.json")
    assert head.get("SSEKMSKeyId", "").endswith("alias/genomics")
