"""Data safety: a run never deletes, overwrites or mixes data that is not its own (issue 11).

Each row is a command line that lost data before runs had their own directory and S3 folder and
uploads verified by checksum: ``--dir X/.`` into an existing directory with ``--delete-after``,
two runs sharing one ``--s3upload`` folder, and ``--delete-after`` on a KMS-encrypted bucket.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from typing import Dict, List

from tests.support.procs import Proc

from ..harness import LocalAws
from ..scorecard import Row, judged
from ..workflows import SCATTER_WDL, scatter_expected, write
from ._common import (
    BACKEND,
    RUN_GUARD,
    SUBMITTER,
    WRAPPER,
    guarded,
    result_files,
    settle,
    submit_cmd,
    submitter_env,
    tail,
)


def _workflow_jobs(aws: LocalAws) -> int:
    return len(
        [j for j in aws.all_jobs() if (j.get("tags") or {}).get("MiniwdlRole") == "workflow"]
    )


def _run_ids(stderr: str) -> List[str]:
    marker = "; run id "
    return [ln.split(marker, 1)[1].strip() for ln in stderr.splitlines() if marker in ln]


def _read(aws: LocalAws, bucket: str, key: str) -> bytes:
    return bytes(aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def _outputs_results(aws: LocalAws, bucket: str, folder_key: str) -> List[str]:
    """The ``scat.results`` of a run's uploaded outputs.json, each file read back from S3."""
    outputs = json.loads(_read(aws, bucket, f"{folder_key}outputs.json"))
    prefix = f"s3://{bucket}/"
    texts = []
    for uri in outputs["scat.files"]:
        if not uri.startswith(prefix + folder_key):
            return []  # a file of another run's folder
        texts.append(_read(aws, bucket, uri[len(prefix) :]).decode().strip())
    return texts


def existing_dir(aws: LocalAws) -> List[Row]:
    """``--dir <mount>/sandbox/. --delete-after always`` where ``sandbox/`` holds the user's
    file: refused before submitting, the file kept."""
    name = "--dir X/. into an existing X, --delete-after always"
    goal = "0 B lost, 0 jobs, exit 2"

    def body() -> List[Row]:
        work = os.path.join(aws.workdir, "existing")
        wdl = write(os.path.join(work, "wf.wdl"), SCATTER_WDL)
        mine = write(os.path.join(aws.efs_dir, "sandbox", "mine.txt"), "user data\n")
        cmd = submit_cmd(aws, wdl, "n=2", "--wait", "--dir", os.path.dirname(mine) + "/.",
                         "--s3upload", f"s3://{aws.stack['bucket']}/x/", "--delete-after",
                         "always")  # fmt: skip
        proc = Proc(cmd, submitter_env(aws), work, "submit")
        code = proc.wait(RUN_GUARD)
        left = settle(aws)
        lost = 0 if os.path.isfile(mine) else len("user data\n")
        jobs = _workflow_jobs(aws)
        ok = lost == 0 and jobs == 0 and code == 2
        detail = f"exit {code}, active left {left}; {tail(proc.stderr, 1)}"
        return [judged(name, f"{lost} B lost, {jobs} jobs, exit {code}", goal, ok, detail)]

    return guarded(name, goal, [SUBMITTER], body)


def shared_folder(aws: LocalAws, n: int) -> List[Row]:
    """Two concurrent runs with the same ``--s3upload s3://bucket/same/`` and ``--delete-after
    success``: each run's outputs.json must name its own, correct files."""
    name = "2 concurrent runs, one --s3upload folder, --delete-after success"
    goal = "0 runs lost or mixed"

    def body() -> List[Row]:
        work = os.path.join(aws.workdir, "shared")
        wdl = write(os.path.join(work, "wf.wdl"), SCATTER_WDL)
        bucket = aws.stack["bucket"]
        cmd = submit_cmd(aws, wdl, f"n={n}", "--wait", "--s3upload", f"s3://{bucket}/same/",
                         "--delete-after", "success")  # fmt: skip
        procs = [Proc(cmd, submitter_env(aws), work, f"submit{i}") for i in range(2)]
        codes = [p.wait(RUN_GUARD) for p in procs]
        left = settle(aws)
        run_ids = [(_run_ids(p.stderr) or ["?"])[0] for p in procs]
        bad = 0
        for rid in run_ids:
            try:
                ok_run = _outputs_results(aws, bucket, f"same/{rid}/") == scatter_expected(n)
            except Exception:
                ok_run = False
            bad += 0 if ok_run else 1
        detail = f"exits {codes}, run ids {run_ids}, active left {left}"
        ok = bad == 0 and codes == [0, 0] and len(set(run_ids)) == 2
        return [judged(name, f"{bad} runs lost or mixed", goal, ok, detail)]

    return guarded(name, goal, [BACKEND, SUBMITTER, WRAPPER], body)


def kms_upload(aws: LocalAws, n: int) -> List[Row]:
    """``--delete-after success`` into a bucket with default SSE-KMS encryption (ETags are not
    MD5s there): exit 0, the run directory deleted, every object present and its SHA-256 right."""
    name = "SSE-KMS bucket, --delete-after success"
    goal = "exit 0, 0 unverified, dir deleted"

    def body() -> List[Row]:
        work = os.path.join(aws.workdir, "kms")
        wdl = write(os.path.join(work, "wf.wdl"), SCATTER_WDL)
        bucket = "reliability-kms"
        s3 = aws.client("s3")
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]
            },
        )
        cmd = submit_cmd(aws, wdl, f"n={n}", "--follow", "--s3upload", f"s3://{bucket}/kms",
                         "--delete-after", "success")  # fmt: skip
        proc = Proc(cmd, submitter_env(aws), work, "submit")
        code = proc.wait(RUN_GUARD)
        left = settle(aws)
        rid = (_run_ids(proc.stderr) or ["?"])[0]
        checked: Dict[str, bool] = {}
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"kms/{rid}/")
        for obj in (o for page in pages for o in page.get("Contents", [])):
            head = s3.head_object(Bucket=bucket, Key=obj["Key"], ChecksumMode="ENABLED")
            data = _read(aws, bucket, obj["Key"])
            sha = base64.b64encode(hashlib.sha256(data).digest()).decode()
            checked[obj["Key"]] = head.get("ChecksumSHA256") == sha
        unverified = sum(1 for v in checked.values() if not v)
        try:
            results_ok = _outputs_results(aws, bucket, f"kms/{rid}/") == scatter_expected(n)
        except Exception:  # no outputs.json: the figure says what happened
            results_ok = False
        deleted = not os.path.exists(os.path.join(aws.efs_dir, "miniwdl_run", rid))
        still_on_efs = result_files(os.path.join(aws.efs_dir, "miniwdl_run"))
        detail = (
            f"exit {code}, {len(checked)} objects, outputs correct {results_ok}, run dir deleted"
            f" {deleted} ({len(still_on_efs)} results left on EFS), active left {left};"
            f" {tail(proc.stderr, 2)}"
        )
        ok = code == 0 and unverified == 0 and results_ok and deleted and len(checked) > n
        figure = f"exit {code}, {unverified} unverified, dir deleted {deleted}"
        return [judged(name, figure, goal, ok, detail)]

    return guarded(name, goal, [BACKEND, SUBMITTER, WRAPPER], body)
