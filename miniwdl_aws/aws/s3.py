"""The S3 calls of miniwdl-aws: managed upload and download (submitter, workflow wrapper),
HeadObject for verification, HeadBucket (submitter), and the ``doctor`` write probe."""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, cast

from boto3.s3.transfer import TransferConfig

from .calls import ServiceApi

__all__ = ["S3Api"]


class S3Api(ServiceApi):
    """S3 calls, counted (see :class:`~miniwdl_aws.aws.calls.ServiceApi`). A managed transfer
    (:meth:`upload_file`, :meth:`download_file`) is counted once, as ``s3.UploadFile`` or
    ``s3.DownloadFile``, though s3transfer may make several requests (multipart parts)."""

    SERVICE = "s3"

    def upload_file(
        self,
        path: str,
        bucket: str,
        key: str,
        part_size: int,
        extra_args: Optional[Mapping[str, str]] = None,
    ) -> None:
        """Upload the file ``path`` to ``s3://bucket/key``, in ``part_size`` parts once it is
        at least that large (so that the composite checksum S3 reports is predictable).

        :raises OSError: the file could not be read
        """
        cfg = TransferConfig(multipart_threshold=part_size, multipart_chunksize=part_size)
        s3 = self._clients("s3")
        self._call(
            "UploadFile",
            lambda: s3.upload_file(path, bucket, key, Config=cfg, ExtraArgs=dict(extra_args or {})),
        )

    def download_file(self, bucket: str, key: str, dest: str) -> None:
        """Download ``s3://bucket/key`` to the file ``dest``."""
        s3 = self._clients("s3")
        self._call("DownloadFile", lambda: s3.download_file(bucket, key, dest))

    def head_object(self, bucket: str, key: str, checksum: bool = False) -> Dict[str, Any]:
        """HeadObject of ``s3://bucket/key`` (with its additional checksum when ``checksum``)."""
        s3 = self._clients("s3")
        if checksum:
            res: Any = self._call(
                "HeadObject",
                lambda: s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED"),
            )
        else:
            res = self._call("HeadObject", lambda: s3.head_object(Bucket=bucket, Key=key))
        return cast(Dict[str, Any], res)

    def head_bucket(self, bucket: str) -> None:
        """HeadBucket: raises ``AwsCallError`` (code ``404``, ``403``...) unless it exists and
        is readable."""
        self._call("HeadBucket", lambda: self._clients("s3").head_bucket(Bucket=bucket))

    def put_object(self, bucket: str, key: str, body: bytes) -> None:
        """PutObject of a small ``body``."""
        self._call(
            "PutObject", lambda: self._clients("s3").put_object(Bucket=bucket, Key=key, Body=body)
        )

    def delete_object(self, bucket: str, key: str) -> None:
        """DeleteObject."""
        self._call(
            "DeleteObject", lambda: self._clients("s3").delete_object(Bucket=bucket, Key=key)
        )
