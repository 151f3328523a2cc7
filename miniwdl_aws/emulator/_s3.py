"""S3 ETags as AWS makes them for KMS-encrypted objects.

AWS documents (S3 API reference, ``Object``/``ETag``) that an object encrypted with SSE-KMS has an
ETag that is *not* the MD5 digest of its data; DSSE-KMS, also KMS-keyed, is treated alike. moto
always returns the MD5 for single-part objects, which lets code that checks uploads by comparing
the ETag with a local MD5 pass here and fail on AWS. This module patches
``moto.s3.models.FakeKey.etag`` so that a key whose ``encryption`` is ``aws:kms`` or
``aws:kms:dsse`` gets a 32-hex-digit ETag that is not the MD5 of its data (a multipart ``-N``
suffix is kept). Every other key keeps moto's ETag. ``tests/emulator/test_contract.py`` pins both
names.
"""

from __future__ import annotations

import hashlib
from typing import Any, Dict

from moto.s3 import models as s3_models

KMS_ENCRYPTIONS = frozenset({"aws:kms", "aws:kms:dsse"})

# Derived from moto's (MD5-based) ETag so that, as on AWS, it still changes whenever the content
# does; the salt keeps it from being any well-known function of the data (such as MD5 of MD5).
_SALT = b"miniwdl-aws emulator: SSE-KMS ETag\0"

_ORIGINALS: Dict[str, Any] = {}


def _kms_etag(moto_etag: str) -> str:
    """Map moto's quoted ETag (``"<md5>"`` or ``"<md5>-N"``) to an opaque one of the same form."""
    digest, sep, parts = moto_etag.strip('"').partition("-")
    # Deterministic, so If-Match, CompleteMultipartUpload's part-ETag comparison and repeated
    # HEADs all agree with what an earlier response handed out.
    # SHA-256 rather than MD5 so that FIPS-mode Pythons, which refuse md5(), can run this.
    opaque = hashlib.sha256(_SALT + digest.encode("ascii")).hexdigest()[:32]
    return f'"{opaque}{sep}{parts}"'


def _etag(self: Any) -> str:
    original = _ORIGINALS["etag"].fget(self)
    if getattr(self, "encryption", None) in KMS_ENCRYPTIONS:
        return _kms_etag(original)
    return original


def install() -> None:
    """Give KMS-encrypted S3 keys non-MD5 ETags (idempotent)."""
    if _ORIGINALS:
        return
    _ORIGINALS["etag"] = s3_models.FakeKey.__dict__["etag"]
    s3_models.FakeKey.etag = property(_etag)  # type: ignore[method-assign,assignment]


def uninstall() -> None:
    """Undo :func:`install`."""
    if not _ORIGINALS:
        return
    s3_models.FakeKey.etag = _ORIGINALS.pop("etag")  # type: ignore[method-assign]
