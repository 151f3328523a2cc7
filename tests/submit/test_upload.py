"""Verified S3 upload, outputs.json rewrite and safe deletion (moto in-process S3; Stubber)."""

from __future__ import annotations

import json
import os
from typing import Any, Iterator

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws

from miniwdl_aws.aws.s3 import S3Api
from miniwdl_aws.errors import ConfigError
from miniwdl_aws.submit import upload
from miniwdl_aws.submit.upload import S3Uploader, UploadError
from tests.support.clients import FakeClients

BUCKET = "miniwdl-test"


def _api(s3: Any) -> S3Api:
    return S3Api(FakeClients(s3=s3))  # type: ignore[arg-type]


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
    up = S3Uploader(_api(s3))
    for f in (small, big, empty):
        up.put_file(str(f), f"s3://{BUCKET}/x/{f.name}")
    heads = {k: s3.head_object(Bucket=BUCKET, Key=k, ChecksumMode="ENABLED") for k in _keys(s3)}
    assert heads["x/big.bin"]["ETag"].endswith('-3"')  # really multipart, and verified
    want, parts = upload.expected_checksum(str(small), 5 * 1024 * 1024)
    assert (heads["x/small.txt"]["ChecksumSHA256"], parts) == (want, 0)
    want, parts = upload.expected_checksum(str(big), 5 * 1024 * 1024)
    assert parts == 3 and heads["x/big.bin"]["ChecksumSHA256"].split("-")[0] == want


def _stubbed_put(tmp_path: Any, head: dict, kms_key: str = "") -> None:
    """put_file of a 4-byte file against a stubbed S3 whose HeadObject answers ``head``."""
    s3 = boto3.client(
        "s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )
    f = tmp_path / "f.txt"
    f.write_text("data")
    put_params = {
        "Bucket": "bkt",
        "Key": "f.txt",
        "Body": ANY,
        "ChecksumAlgorithm": "SHA256",
        **upload.sse_args(kms_key),
    }
    with Stubber(s3) as stub:
        stub.add_response("put_object", {"ETag": '"whatever"'}, put_params)
        stub.add_response(
            "head_object", head, {"Bucket": "bkt", "Key": "f.txt", "ChecksumMode": "ENABLED"}
        )
        S3Uploader(_api(s3), kms_key).put_file(str(f), "s3://bkt/f.txt")
        stub.assert_no_pending_responses()


DATA_SHA256 = "Om6weQ85rIfJTzhWst0sXREOaBFgImGpqSPTuyOtyLc="  # base64 SHA-256 of b"data"


def test_verification_uses_the_checksum_not_the_etag(tmp_path: Any) -> None:
    """With SSE-KMS the ETag is no MD5: an object whose ETag is anything but whose SHA-256
    matches verifies; the requested encryption header is sent."""
    head = {"ContentLength": 4, "ETag": '"0123456789abcdef0123456789abcdef"'}
    _stubbed_put(tmp_path, {**head, "ChecksumSHA256": DATA_SHA256}, kms_key="alias/genomics")
    _stubbed_put(tmp_path, {**head, "ChecksumSHA256": DATA_SHA256}, kms_key="aws:kms:dsse")


@pytest.mark.parametrize(
    "head",
    [
        {"ContentLength": 4, "ChecksumSHA256": "AAAA" + DATA_SHA256[4:]},  # wrong checksum
        {"ContentLength": 5, "ChecksumSHA256": DATA_SHA256},  # wrong size
        {"ContentLength": 4},  # no checksum reported: cannot verify
        {"ContentLength": 4, "ChecksumSHA256": DATA_SHA256 + "-1"},  # composite, not single
    ],
)
def test_verification_rejects_a_mismatching_object(tmp_path: Any, head: dict) -> None:
    with pytest.raises(UploadError, match="did not verify"):
        _stubbed_put(tmp_path, {"ETag": '"x"', **head})


def test_checksum_matching_and_sse_arguments() -> None:
    assert upload.checksum_matches("abc=", "abc=", 0)
    assert upload.checksum_matches("abc=-3", "abc=", 3) and upload.checksum_matches(
        "abc=", "abc=", 3
    )
    assert not upload.checksum_matches("abc=-2", "abc=", 3)
    assert upload.sse_args("") == {}
    assert upload.sse_args("aws:kms") == {"ServerSideEncryption": "aws:kms"}
    assert upload.sse_args("arn:aws:kms:us-east-1:111122223333:key/k") == {
        "ServerSideEncryption": "aws:kms",
        "SSEKMSKeyId": "arn:aws:kms:us-east-1:111122223333:key/k",
    }


def test_failed_put_is_an_upload_error(tmp_path: Any) -> None:
    s3 = boto3.client(
        "s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )
    f = tmp_path / "f.txt"
    f.write_text("data")
    with Stubber(s3) as stub:
        stub.add_client_error("put_object", "AccessDenied", http_status_code=403)
        with pytest.raises(UploadError, match="AccessDenied"):
            S3Uploader(_api(s3)).put_file(str(f), "s3://bkt/f.txt")


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
    folder = upload.run_folder(f"s3://{BUCKET}/runs", "mw261129T010203-abcdef")
    assert folder == upload.run_folder(f"s3://{BUCKET}/runs/", "mw261129T010203-abcdef")
    assert folder == f"s3://{BUCKET}/runs/mw261129T010203-abcdef/"
    res = upload.upload_run(S3Uploader(_api(s3)), folder, str(run), doc)
    assert res.ok, res.errors
    p = "runs/mw261129T010203-abcdef/"
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
        S3Uploader(_api(s3)), folder, str(run), {"error": "RunFailed", "dir": str(run)}
    )
    assert res.ok
    assert "f/CommandFailed_stderr.txt" in _keys(s3) and "f/outputs.json" not in _keys(s3)
    got = json.loads(s3.get_object(Bucket=BUCKET, Key="f/error.json")["Body"].read())
    assert got["cause"]["stderr_s3file"] == folder + "CommandFailed_stderr.txt"


def test_upload_before_run_started(s3: Any) -> None:
    res = upload.upload_run(
        S3Uploader(_api(s3)), f"s3://{BUCKET}/e/", None, None, {"error": "X", "message": "no WDL"}
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
        res = upload.upload_run(S3Uploader(_api(s3)), "s3://bkt/f/", str(run), doc)
    assert not res.ok and len(res.errors) == 5 and not res.uploaded


def test_what_matters_goes_up_first(s3: Any, tmp_path: Any) -> None:
    """A stopped workflow job has 30 s before SIGKILL: workflow.log and the error document go
    before the outputs, and those before the (possibly thousands of) call logs."""
    run, doc = _fake_run(tmp_path)
    for i in range(40):
        call = run / f"call-extra-{i}"
        call.mkdir()
        (call / "task.log").write_text(f"log {i}\n")
    stderr = run / "call-greet-0" / "stderr.txt"
    stderr.write_text("boom\n")
    err = {"error": "Terminated", "cause": {"stderr_file": str(stderr)}}
    (run / "error.json").write_text(json.dumps(err))
    order: list = []
    s3.meta.events.register(
        "before-parameter-build.s3.PutObject", lambda params, **_: order.append(params["Key"])
    )
    res = upload.upload_run(S3Uploader(_api(s3)), f"s3://{BUCKET}/o/", str(run), doc, workers=8)
    assert res.ok, res.errors
    rank = {key: i for i, key in enumerate(order)}
    logs = [k for k in order if k.endswith("/task.log")]
    assert len(logs) == 41 and len(order) == len(set(order))
    first = max(rank["o/workflow.log"], rank["o/error.json"], rank["o/CommandFailed_stderr.txt"])
    outputs = [rank[k] for k in ("o/greeting/0/greeting.txt", "o/d/d/inner.txt", "o/outputs.json")]
    assert first < min(outputs) and max(outputs) < min(rank[k] for k in logs)
