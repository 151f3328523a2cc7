"""S3 integrity metadata as AWS documents it: ETags of KMS-encrypted objects are not MD5s, and
additional checksums (SHA-256 here) come back single-part and multipart (composite), whatever the
bucket's encryption. See the fidelity table in ``miniwdl_aws/emulator/README.md``."""

from __future__ import annotations

import base64
import hashlib
import random
import re
from pathlib import Path
from typing import Any, List, Optional

import boto3
import pytest
from boto3.s3.transfer import TransferConfig

MIB = 1024 * 1024
PART_SIZE = 8 * MIB
# With a 12 MiB file: two parts, the second one short, as the uploader would send them.
MULTIPART = TransferConfig(
    multipart_threshold=PART_SIZE, multipart_chunksize=PART_SIZE, use_threads=False
)
HEX32 = re.compile(r"^[0-9a-f]{32}$")


def _s3() -> Any:
    return boto3.client("s3")


def _bucket(s3: Any, name: str, sse: Optional[str] = None) -> str:
    """Create ``name``; with ``sse``, make that the bucket's default (PutBucketEncryption)."""
    s3.create_bucket(Bucket=name)
    if sse:
        s3.put_bucket_encryption(
            Bucket=name,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": sse}}]
            },
        )
    return name


def _data(size: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(size)


def _etag(s3: Any, bucket: str, key: str) -> str:
    return str(s3.head_object(Bucket=bucket, Key=key)["ETag"]).strip('"')


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def _parts(data: bytes) -> List[bytes]:
    return [data[i : i + PART_SIZE] for i in range(0, len(data), PART_SIZE)]


def _multipart_md5_etag(data: bytes) -> str:
    """The ETag AWS gives an unencrypted (or SSE-S3) multipart object: MD5 of the part MD5s, -N."""
    parts = _parts(data)
    joined = b"".join(hashlib.md5(p).digest() for p in parts)
    return f"{hashlib.md5(joined).hexdigest()}-{len(parts)}"


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def _upload(tmp_path: Path, s3: Any, bucket: str, key: str, data: bytes, **extra: Any) -> None:
    path = tmp_path / key
    path.write_bytes(data)
    s3.upload_file(str(path), bucket, key, ExtraArgs=extra or None, Config=MULTIPART)


def test_plaintext_single_part_etag_is_md5(aws: Any) -> None:
    s3 = _s3()
    bucket = _bucket(s3, "fidelity-plain")
    data = _data(1000)
    put = s3.put_object(Bucket=bucket, Key="k", Body=data)
    assert put["ETag"].strip('"') == _md5(data)
    assert _etag(s3, bucket, "k") == _md5(data)


def test_sse_s3_single_part_etag_is_md5(aws: Any) -> None:
    s3 = _s3()
    bucket = _bucket(s3, "fidelity-sse-s3", sse="AES256")
    data = _data(1000)
    s3.put_object(Bucket=bucket, Key="k", Body=data)
    head = s3.head_object(Bucket=bucket, Key="k")
    assert head["ServerSideEncryption"] == "AES256"
    assert head["ETag"].strip('"') == _md5(data)


@pytest.mark.parametrize("sse", ["aws:kms", "aws:kms:dsse"])
def test_kms_bucket_default_single_part_etag_is_not_md5(aws: Any, sse: str) -> None:
    s3 = _s3()
    bucket = _bucket(s3, "fidelity-kms", sse=sse)
    data = _data(1000)
    put = s3.put_object(Bucket=bucket, Key="k", Body=data)
    head = s3.head_object(Bucket=bucket, Key="k")
    assert head["ServerSideEncryption"] == sse  # the bucket default really applied
    etag = head["ETag"].strip('"')
    assert HEX32.match(etag), etag
    assert etag != _md5(data)
    # every response that carries the ETag agrees, so If-Match and caches keep working
    assert put["ETag"].strip('"') == etag
    assert s3.get_object(Bucket=bucket, Key="k", IfMatch=etag)["Body"].read() == data
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert [o["ETag"].strip('"') for o in listed] == [etag]


def test_explicit_sse_kms_on_plain_bucket_etag_is_not_md5(aws: Any) -> None:
    s3 = _s3()
    bucket = _bucket(s3, "fidelity-plain")
    data = _data(1000)
    s3.put_object(Bucket=bucket, Key="kms", Body=data, ServerSideEncryption="aws:kms")
    s3.put_object(Bucket=bucket, Key="plain", Body=data)
    head = s3.head_object(Bucket=bucket, Key="kms")
    assert head["ServerSideEncryption"] == "aws:kms"
    etag = head["ETag"].strip('"')
    assert HEX32.match(etag) and etag != _md5(data)
    assert _etag(s3, bucket, "plain") == _md5(data)


def test_kms_etag_changes_with_content(aws: Any) -> None:
    s3 = _s3()
    bucket = _bucket(s3, "fidelity-kms", sse="aws:kms")
    s3.put_object(Bucket=bucket, Key="k", Body=_data(1000, seed=1))
    first = _etag(s3, bucket, "k")
    s3.put_object(Bucket=bucket, Key="k", Body=_data(1000, seed=2))
    assert _etag(s3, bucket, "k") != first


def test_plaintext_multipart_etag_is_md5_of_part_md5s(aws: Any, tmp_path: Path) -> None:
    s3 = _s3()
    bucket = _bucket(s3, "fidelity-plain")
    data = _data(12 * MIB)
    _upload(tmp_path, s3, bucket, "big", data)
    assert _etag(s3, bucket, "big") == _multipart_md5_etag(data)


def test_multipart_on_kms_bucket_keeps_part_count(aws: Any, tmp_path: Path) -> None:
    s3 = _s3()
    bucket = _bucket(s3, "fidelity-kms", sse="aws:kms")
    data = _data(12 * MIB)
    _upload(tmp_path, s3, bucket, "big", data)
    head = s3.head_object(Bucket=bucket, Key="big")
    assert head["ServerSideEncryption"] == "aws:kms"
    digest, _, parts = head["ETag"].strip('"').partition("-")
    assert parts == "2"
    assert HEX32.match(digest), digest
    assert f"{digest}-{parts}" != _multipart_md5_etag(data)
    assert s3.get_object(Bucket=bucket, Key="big")["Body"].read() == data


def test_multipart_with_explicit_sse_kms_completes(aws: Any, tmp_path: Path) -> None:
    """The part ETags UploadPart hands out are KMS ETags too; completing with them must work."""
    s3 = _s3()
    bucket = _bucket(s3, "fidelity-plain")
    data = _data(12 * MIB)
    _upload(tmp_path, s3, bucket, "big", data, ServerSideEncryption="aws:kms")
    digest, _, parts = _etag(s3, bucket, "big").partition("-")
    assert parts == "2" and HEX32.match(digest)
    assert f"{digest}-{parts}" != _multipart_md5_etag(data)
    assert s3.get_object(Bucket=bucket, Key="big")["Body"].read() == data


def _checksum_sha256(s3: Any, bucket: str, key: str) -> str:
    head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    return str(head["ChecksumSHA256"])


@pytest.mark.parametrize("sse", [None, "aws:kms"])
def test_sha256_checksum_single_part(aws: Any, tmp_path: Path, sse: Optional[str]) -> None:
    s3 = _s3()
    bucket = _bucket(s3, "fidelity-checksums", sse=sse)
    data = _data(3 * MIB)
    _upload(tmp_path, s3, bucket, "small", data, ChecksumAlgorithm="SHA256")
    assert _checksum_sha256(s3, bucket, "small") == _b64(hashlib.sha256(data).digest())


@pytest.mark.parametrize("sse", [None, "aws:kms"])
def test_sha256_checksum_multipart_is_composite(
    aws: Any, tmp_path: Path, sse: Optional[str]
) -> None:
    s3 = _s3()
    bucket = _bucket(s3, "fidelity-checksums", sse=sse)
    data = _data(12 * MIB)
    _upload(tmp_path, s3, bucket, "big", data, ChecksumAlgorithm="SHA256")
    parts = _parts(data)
    assert len(parts) == 2
    composite = _b64(hashlib.sha256(b"".join(hashlib.sha256(p).digest() for p in parts)).digest())
    full_object = _b64(hashlib.sha256(data).digest())
    value = _checksum_sha256(s3, bucket, "big")
    # base64 has no '-', so anything after one is the part count AWS appends in HeadObject
    checksum, dash, count = value.partition("-")
    assert checksum == composite and checksum != full_object
    assert not dash or count == str(len(parts)), value
