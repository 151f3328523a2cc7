"""Verified S3 upload of a run, the ``outputs.json`` rewrite, and the safe ``--delete-after``.

Every object is uploaded with boto3 (no awscli) with an S3 additional checksum (SHA-256) and a
part size we choose, so that we know what S3 must report back: the SHA-256 of the file for a
single-part upload, or the SHA-256 of the concatenated part SHA-256s (a "composite" checksum)
for a multipart one. After each upload a HeadObject with ``ChecksumMode=ENABLED`` must report the
same size and checksum. The ETag is never used: with SSE-KMS or DSSE-KMS (bucket default or
requested) it is not an MD5 of anything we can compute. Only when *every* object of the run
verified may the run's own directory be deleted (see :mod:`.rundir`).
"""

from __future__ import annotations

import base64
import concurrent.futures
import hashlib
import json
import os
import re
import tempfile
import threading
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from miniwdl_aws.aws.s3 import S3Api
from miniwdl_aws.errors import AwsCallError, ConfigError

_S3_URI = re.compile(r"^s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(/[^\x00-\x1f]*)?$")
_MIB = 1024 * 1024
PART_SIZE = 8 * _MIB  # S3 parts ≥5 MiB (but the last); ≤10,000 parts per object
MAX_PARTS = 10000
CHECKSUM_ALGORITHM = "SHA256"  # in hashlib; CRC32C would need botocore's optional CRT


class UploadError(Exception):
    """An object could not be uploaded or did not verify."""


def parse_s3_uri(uri: str, what: str = "S3 URI") -> Tuple[str, str]:
    """``s3://bucket/key`` → ``(bucket, key)``; raises ConfigError when malformed."""
    m = _S3_URI.match(uri or "")
    if not m or ".." in m.group(1):
        raise ConfigError(f"{what}: malformed S3 URI {uri!r} (expected s3://bucket/folder/)")
    return m.group(1), (m.group(2) or "/")[1:]


def part_size(size: int) -> int:
    """Part size for a ``size``-byte object: PART_SIZE, doubled until ≤ MAX_PARTS parts."""
    chunk = PART_SIZE
    while size > chunk * MAX_PARTS:
        chunk *= 2
    return chunk


def expected_checksum(path: str, chunk: int) -> Tuple[str, int]:
    """``(base64 SHA-256, parts)`` S3 reports for ``path`` uploaded with ``chunk``-sized parts
    and multipart threshold ``chunk``: parts 0 for a single-part upload (the file's SHA-256),
    else the SHA-256 of the concatenated raw part SHA-256s."""
    part_digests = []
    whole = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            block = f.read(chunk)
            if not block:
                break
            part_digests.append(hashlib.sha256(block).digest())
            whole.update(block)
    if os.path.getsize(path) < chunk:  # below the threshold s3transfer sends one PutObject
        return base64.b64encode(whole.digest()).decode(), 0
    composite = hashlib.sha256(b"".join(part_digests)).digest()
    return base64.b64encode(composite).decode(), len(part_digests)


def checksum_matches(reported: str, expected: str, parts: int) -> bool:
    """Whether S3's ``ChecksumSHA256`` is ``expected``; a composite one may carry ``-<parts>``."""
    value, _, suffix = reported.partition("-")
    return value == expected and (not suffix or (parts > 0 and suffix == str(parts)))


def sse_args(kms_key: str) -> Dict[str, str]:
    """Upload arguments for ``[aws] s3_upload_kms_key`` (see config.py)."""
    key = (kms_key or "").strip()
    if not key:
        return {}
    if key in ("aws:kms", "aws:kms:dsse"):
        return {"ServerSideEncryption": key}
    return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key}


class S3Uploader:
    """Uploads files with boto3 and verifies each one (size + SHA-256 via HeadObject).

    :param s3: the S3 calls
    :param kms_key: ``[aws] s3_upload_kms_key``: the encryption header to send, if any
    """

    def __init__(self, s3: S3Api, kms_key: str = "") -> None:
        self._s3 = s3
        self._extra = {"ChecksumAlgorithm": CHECKSUM_ALGORITHM, **sse_args(kms_key)}

    def put_file(self, path: str, uri: str) -> None:
        """Upload ``path`` to ``uri`` and verify it; raises UploadError."""
        bucket, key = parse_s3_uri(uri)
        size = os.path.getsize(path)
        chunk = part_size(size)
        try:
            want, parts = expected_checksum(path, chunk)
            self._s3.upload_file(path, bucket, key, chunk, self._extra)
            head = self._s3.head_object(bucket, key, checksum=True)
        except (AwsCallError, OSError) as exn:
            raise UploadError(f"upload of {path} to {uri} failed: {exn}") from None
        got = str(head.get("ChecksumSHA256") or "")
        if head.get("ContentLength") != size or not checksum_matches(got, want, parts):
            raise UploadError(
                f"upload of {path} to {uri} did not verify: S3 has {head.get('ContentLength')}"
                f" bytes, SHA-256 {got or '(none reported)'}; expected {size} bytes, SHA-256"
                f" {want}" + (f"-{parts}" if parts else "")
            )

    def put_bytes(self, data: bytes, uri: str) -> None:
        """Upload ``data`` to ``uri`` (through a temp file, to share the verified path)."""
        with tempfile.NamedTemporaryFile(prefix="miniwdl_aws_") as tmp:
            tmp.write(data)
            tmp.flush()
            self.put_file(tmp.name, uri)

    def get_file(self, uri: str, dest: str) -> None:
        """Download ``uri`` to ``dest``; raises UploadError."""
        bucket, key = parse_s3_uri(uri)
        try:
            self._s3.download_file(bucket, key, dest)
        except (AwsCallError, OSError) as exn:
            raise UploadError(f"download of {uri} failed: {exn}") from None


@dataclass
class RunUpload:
    """Outcome of :func:`upload_run`."""

    folder: str
    uploaded: List[str] = field(default_factory=list)
    errors: List[str] = field(default_factory=list)
    outputs: Optional[Dict[str, Any]] = None

    @property
    def ok(self) -> bool:
        """Every object uploaded and verified."""
        return not self.errors


def run_folder(s3upload: str, run_id: str) -> str:
    """The S3 folder of a run: ``<s3upload>/<run id>/``, whatever form ``s3upload`` takes, so
    that two runs never write the same keys (miniwdl-aws 0.12.2 wrote a ``/``-ended folder as
    is, where concurrent or later runs overwrote each other's ``outputs.json``)."""
    if not run_id or "/" in run_id:
        raise ConfigError(f"invalid run id {run_id!r}")
    return f"{s3upload.rstrip('/')}/{run_id}/"


UPLOAD_WORKERS = 32  # objects in flight at once (the S3 client pools 32 connections)


def upload_run(
    uploader: S3Uploader,
    folder: str,
    run_dir: Optional[str],
    miniwdl_json: Optional[Dict[str, Any]],
    error: Optional[Dict[str, Any]] = None,
    workers: int = UPLOAD_WORKERS,
) -> RunUpload:
    """Upload a run's logs, outputs, ``outputs.json`` (with ``s3://`` URIs) and, on failure,
    ``error.json`` with the failed task's stdout/stderr. Never raises on an S3 error: they are
    collected in ``.errors`` so that the caller keeps everything and reports them all.

    What matters most goes first, and each step's objects go up ``workers`` at a time: a workflow
    job stopped by TerminateJob or its timeout gets SIGKILL 30 s after SIGTERM, and a run of
    a thousand tasks has a thousand call logs. So: ``workflow.log`` and the error document,
    then the outputs and ``outputs.json``, then the run summary and ``report.html``, then every
    call's log.

    :param run_dir: miniwdl's run directory (None: the run never started)
    :param miniwdl_json: what ``miniwdl run`` printed on stdout (outputs or error), if parseable
    :param error: an error document to upload when there is no run directory's error.json
    """
    upload = _RunUploader(uploader, folder, workers)
    has_dir = bool(run_dir and os.path.isdir(run_dir))
    if run_dir and has_dir:
        error = upload.run_error(run_dir, error)
    if error is None and miniwdl_json and "error" in miniwdl_json and "outputs" not in miniwdl_json:
        error = miniwdl_json
    if run_dir and has_dir and os.path.isfile(os.path.join(run_dir, "workflow.log")):
        upload.put(os.path.join(run_dir, "workflow.log"), "workflow.log")
    if isinstance(error, dict):
        upload.error(error)
    if run_dir and has_dir:
        upload.outputs(run_dir, miniwdl_json)
        # the run summary and its HTML report (ops/summary.py's end-of-run plugin writes both)
        pages = [
            n
            for n in ("aws_batch_summary.json", "report.html")
            if os.path.isfile(os.path.join(run_dir, n))
        ]
        upload.put_many([(os.path.join(run_dir, n), n) for n in pages])
        logs = [rel for rel in _log_files(run_dir) if rel != "workflow.log"]
        upload.put_many([(os.path.join(run_dir, rel), rel) for rel in logs])
    return upload.res


class _RunUploader:
    """One run's upload into ``folder``, collecting what went up and what failed."""

    def __init__(self, uploader: S3Uploader, folder: str, workers: int) -> None:
        self.uploader = uploader
        self.folder = folder
        self.workers = max(1, workers)
        self.res = RunUpload(folder=folder)
        self._lock = threading.Lock()

    def put(self, path: str, rel: str) -> None:
        try:
            self.uploader.put_file(path, self.folder + rel)
        except UploadError as exn:
            with self._lock:
                self.res.errors.append(str(exn))
            return
        with self._lock:
            self.res.uploaded.append(self.folder + rel)

    def put_many(self, items: List[Tuple[str, str]]) -> None:
        """``put`` each ``(path, rel)``, ``workers`` at a time (the S3 client is thread-safe)."""
        if len(items) <= 1 or self.workers == 1:
            for path, rel in items:
                self.put(path, rel)
            return
        with concurrent.futures.ThreadPoolExecutor(self.workers) as pool:
            list(pool.map(lambda item: self.put(*item), items))

    def put_json(self, obj: Any, rel: str) -> None:
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as tmp:
            json.dump(obj, tmp, indent=2)
        try:
            self.put(tmp.name, rel)
        finally:
            os.unlink(tmp.name)

    def run_error(self, run_dir: str, error: Optional[Dict[str, Any]]) -> Any:
        """The error document to upload: the run's own ``error.json`` when it has a readable
        one (an unreadable one goes up as is, for a person), else ``error``."""
        err_file = os.path.join(run_dir, "error.json")
        if not os.path.isfile(err_file):
            return error
        with open(err_file) as f:
            try:
                doc = json.load(f)
            except ValueError:
                doc = None
        if doc is None:
            self.put(err_file, "error.json")
        return doc

    def outputs(self, run_dir: str, miniwdl_json: Optional[Dict[str, Any]]) -> None:
        """Upload the files under ``out/``, then ``outputs.json`` naming their ``s3://`` URIs."""
        out_dir = os.path.join(run_dir, "out")
        files = _files_under(out_dir)
        self.put_many([(os.path.join(out_dir, rel), rel) for rel in files])
        uploaded_out: Dict[str, str] = {}
        for rel in files:
            src = os.path.join(out_dir, rel)
            uploaded_out[os.path.realpath(src)] = self.folder + rel
            uploaded_out[os.path.normpath(src)] = self.folder + rel
        outputs = (miniwdl_json or {}).get("outputs")
        if isinstance(outputs, dict):
            norm_out = os.path.normpath(out_dir)
            self.res.outputs = _rewrite(outputs, uploaded_out, norm_out, self.folder)
            self.put_json(self.res.outputs, "outputs.json")

    def error(self, error: Dict[str, Any]) -> None:
        """Upload ``error.json``, with the failed task's stdout/stderr beside it."""
        error = json.loads(json.dumps(error))
        cause = error.get("cause") if isinstance(error.get("cause"), dict) else None
        streams = []
        for std in ("stdout", "stderr"):
            std_file = cause.get(f"{std}_file") if cause else None
            if cause is not None and std_file and os.path.isfile(std_file):
                rel = f"CommandFailed_{std}.txt"
                streams.append((std_file, rel))
                cause[f"{std}_s3file"] = self.folder + rel
        self.put_many(streams)
        self.put_json(error, "error.json")


def _log_files(run_dir: str) -> List[str]:
    """``workflow.log`` and every call's ``*.log``, relative to ``run_dir`` (not under out/)."""
    found = []
    for dirpath, dirnames, filenames in os.walk(run_dir):
        dirnames[:] = sorted(d for d in dirnames if d not in ("out", "work", "_miniwdl_inputs"))
        for fn in sorted(filenames):
            if fn.endswith(".log"):
                found.append(os.path.relpath(os.path.join(dirpath, fn), run_dir))
    return found


def _files_under(top: str) -> List[str]:
    """Files under ``top`` (following miniwdl's output symlinks), relative, sorted."""
    found = []
    for dirpath, dirnames, filenames in os.walk(top, followlinks=True):
        dirnames.sort()
        for fn in sorted(filenames):
            path = os.path.join(dirpath, fn)
            if os.path.isfile(path):
                found.append(os.path.relpath(path, top))
    return found


def _rewrite(value: Any, uploaded: Dict[str, str], out_dir: str, folder: str) -> Any:
    """Output values that are uploaded files become their ``s3://`` URIs, and Directory outputs
    under ``out/`` the S3 folder holding their files; anything else is left as is."""
    if isinstance(value, str) and value.startswith("/"):
        for cand in (os.path.normpath(value), os.path.realpath(value)):
            if cand in uploaded:
                return uploaded[cand]
        norm = os.path.normpath(value)
        if os.path.isdir(value) and norm.startswith(out_dir + os.sep):
            return folder + os.path.relpath(norm, out_dir) + "/"
        return value
    if isinstance(value, list):
        return [_rewrite(v, uploaded, out_dir, folder) for v in value]
    if isinstance(value, dict):
        return {k: _rewrite(v, uploaded, out_dir, folder) for k, v in value.items()}
    return value
