"""Verified S3 upload, outputs.json rewrite and safe deletion (moto in-process S3; Stubber)."""

from __future__ import annotations

import json
import os
from typing import Any, Iterator

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from miniwdl_aws.errors import ConfigError
from miniwdl_aws.submit import upload
from miniwdl_aws.submit.upload import S3Uploader, UploadError

BUCKET = "miniwdl-test"


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for var in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def _keys(s3: Any) -> list:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []))


@pytest.mark.parametrize("uri", ["s3://", "s3:/b/x", "http://b/x", "s3://B_ad/x", "s3://a/x\n"])
def test_malformed_uris(uri: str) -> None:
    with pytest.raises(ConfigError):
        upload.parse_s3_uri(uri)


def test_uri_parsing() -> None:
    assert upload.parse_s3_uri("s3://bkt/a/b/") == ("bkt", "a/b/")
    assert upload.parse_s3_uri("s3://bkt") == ("bkt", "")


def test_single_and_multipart_uploads_verify(s3: Any, tmp_path: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(upload, "PART_SIZE", 5 * 1024 * 1024)
    small = tmp_path / "small.txt"
    small.write_text("hello\n")
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(11 * 1024 * 1024))
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    up = S3Uploader(s3)
    for f in (small, big, empty):
        up.put_file(str(f), f"s3://{BUCKET}/x/{f.name}")
    heads = {k: s3.head_object(Bucket=BUCKET, Key=k)["ETag"] for k in _keys(s3)}
    assert heads["x/big.bin"].endswith('-3"')  # really multipart, and verified
    assert heads["x/small.txt"] == '"' + upload.expected_etag(str(small), 5 * 1024 * 1024) + '"'


def test_verification_rejects_a_mismatching_object(tmp_path: Any) -> None:
    s3 = boto3.client(
        "s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )
    f = tmp_path / "f.txt"
    f.write_text("data")
    up = S3Uploader(s3)
    with Stubber(s3) as stub:
        stub.add_response("put_object", {"ETag": '"whatever"'})
        stub.add_response(
            "head_object",
            {"ContentLength": 4, "ETag": '"00000000000000000000000000000000"'},
            {"Bucket": "bkt", "Key": "f.txt"},
        )
        with pytest.raises(UploadError, match="did not verify"):
            up.put_file(str(f), "s3://bkt/f.txt")


def test_failed_put_is_an_upload_error(tmp_path: Any) -> None:
    s3 = boto3.client(
        "s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )
    f = tmp_path / "f.txt"
    f.write_text("data")
    with Stubber(s3) as stub:
        stub.add_client_error("put_object", "AccessDenied", http_status_code=403)
        with pytest.raises(UploadError, match="AccessDenied"):
            S3Uploader(s3).put_file(str(f), "s3://bkt/f.txt")


def _fake_run(tmp_path: Any) -> tuple:
    """A run directory shaped like miniwdl's: logs, call dirs, out/ symlinks."""
    run = tmp_path / "efs" / "miniwdl_run" / "20260101_000000_wf"
    work = run / "call-greet-0" / "work"
    work.mkdir(parents=True)
    (run / "workflow.log").write_text("wf log\n")
    (run / "call-greet-0" / "task.log").write_text("task log\n")
    (work / "greeting.txt").write_text("Hello!\n")
    (work / "d").mkdir()
    (work / "d" / "inner.txt").write_text("in dir\n")
    (run / "out" / "greeting" / "0").mkdir(parents=True)
    os.symlink(work / "greeting.txt", run / "out" / "greeting" / "0" / "greeting.txt")
    (run / "out" / "d").mkdir()
    os.symlink(work / "d", run / "out" / "d" / "d")
    outputs = {
        "wf.greeting": [str(run / "out" / "greeting" / "0" / "greeting.txt")],
        "wf.via_call_dir": str(work / "greeting.txt"),
        "wf.d": str(run / "out" / "d" / "d"),
        "wf.n": 3,
        "wf.s": "/not/a/file",
    }
    return run, {"dir": str(run), "outputs": outputs}


def test_upload_run_success_rewrites_outputs(s3: Any, tmp_path: Any) -> None:
    run, doc = _fake_run(tmp_path)
    folder = upload.run_folder(f"s3://{BUCKET}/runs", str(run))
    assert folder == f"s3://{BUCKET}/runs/{run.name}/"
    res = upload.upload_run(S3Uploader(s3), folder, str(run), doc)
    assert res.ok, res.errors
    p = f"runs/{run.name}/"
    assert _keys(s3) == sorted(
        p + k
        for k in (
            "workflow.log",
            "call-greet-0/task.log",
            "greeting/0/greeting.txt",
            "d/d/inner.txt",
            "outputs.json",
        )
    )
    body = json.loads(s3.get_object(Bucket=BUCKET, Key=p + "outputs.json")["Body"].read())
    assert body == res.outputs
    assert body["wf.greeting"] == [f"s3://{BUCKET}/{p}greeting/0/greeting.txt"]
    assert body["wf.via_call_dir"] == f"s3://{BUCKET}/{p}greeting/0/greeting.txt"
    assert body["wf.d"] == f"s3://{BUCKET}/{p}d/d/"
    assert (body["wf.n"], body["wf.s"]) == (3, "/not/a/file")


def test_upload_run_failure_uploads_error_and_task_streams(s3: Any, tmp_path: Any) -> None:
    run, _ = _fake_run(tmp_path)
    stderr = run / "call-greet-0" / "stderr.txt"
    stderr.write_text("boom\n")
    err = {"error": "RunFailed", "cause": {"error": "CommandFailed", "stderr_file": str(stderr)}}
    (run / "error.json").write_text(json.dumps(err))
    folder = f"s3://{BUCKET}/f/"
    res = upload.upload_run(
        S3Uploader(s3), folder, str(run), {"error": "RunFailed", "dir": str(run)}
    )
    assert res.ok
    assert "f/CommandFailed_stderr.txt" in _keys(s3) and "f/outputs.json" not in _keys(s3)
    got = json.loads(s3.get_object(Bucket=BUCKET, Key="f/error.json")["Body"].read())
    assert got["cause"]["stderr_s3file"] == folder + "CommandFailed_stderr.txt"


def test_upload_before_run_started(s3: Any) -> None:
    res = upload.upload_run(
        S3Uploader(s3), f"s3://{BUCKET}/e/", None, None, {"error": "X", "message": "no WDL"}
    )
    assert res.ok and _keys(s3) == ["e/error.json"]


def test_upload_errors_are_collected_not_raised(tmp_path: Any) -> None:
    run, doc = _fake_run(tmp_path)
    s3 = boto3.client(
        "s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )
    with Stubber(s3) as stub:
        for _ in range(5):
            stub.add_client_error("put_object", "InternalError", http_status_code=500)
        res = upload.upload_run(S3Uploader(s3), "s3://bkt/f/", str(run), doc)
    assert not res.ok and len(res.errors) == 5 and not res.uploaded


def test_safe_delete(tmp_path: Any) -> None:
    root = tmp_path / "efs"
    run = root / "miniwdl_run" / "r1"
    run.mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("x")
    os.symlink(outside, run / "link")  # a symlink inside is removed, its target kept
    os.symlink(outside, root / "escape")
    for bad in (str(root), str(outside), str(root / "escape"), "/", str(root / "missing")):
        with pytest.raises(ConfigError):
            upload.safe_delete(bad, str(root))
    with pytest.raises(ConfigError):
        upload.safe_delete(str(run), "/")
    upload.safe_delete(str(run), str(root))
    assert not run.exists() and (outside / "keep.txt").exists()
