"""Fixtures for the operability tests.

``stack`` is the emulator's reference stack (the ``aws`` fixture), which is complete as a real
deployment needs it (NFS admitted between the compute environments and the EFS mount target), so
tests start from a stack that passes ``doctor`` and then break one thing at a time.
"""

from __future__ import annotations

from typing import Any, Iterator

import pytest


@pytest.fixture
def stack(aws: Any) -> Iterator[Any]:
    """The reference stack (an alias of ``aws`` that names the intent)."""
    yield aws
