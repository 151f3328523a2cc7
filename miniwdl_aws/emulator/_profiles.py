"""Named fault profiles: several unkind behaviours turned on together.

``realistic`` is what the benchmarks' and the scorecard's headline runs meet: the account-wide
Batch request budget AWS documents, ECS's 30 s stop timeout (the emulator's default grace), and a
per-call latency and a listing lag that AWS does not quantify. The last two are assumptions, kept
small so that they slow nothing down that AWS would not; say so wherever a figure depends on them.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

REALISTIC: Dict[str, Any] = {
    # Batch service quotas: about 50 requests per second per account and Region, shared by
    # SubmitJob and the other Batch calls
    "budget": {"batch.*": 50},
    # assumption (no AWS figure): tens of milliseconds per call, as from inside the Region
    "latency": {"batch.*": 0.05, "logs.*": 0.05, "s3.*": 0.02, "efs.*": 0.05},
    # assumption (AWS: "eventually consistent", no figure): a new job is missing from
    # DescribeJobs and ListJobs for its first second
    "visibility_lag": 1.0,
}

PROFILES: Dict[str, Dict[str, Any]] = {"realistic": REALISTIC}


def with_profile(
    profile: Optional[str], faults: Optional[Dict[str, Any]]
) -> Optional[Dict[str, Any]]:
    """The fault spec of ``profile`` with ``faults`` on top (their keys win); ``faults`` alone
    without a profile. Raises ValueError for an unknown profile."""
    if profile is None:
        return faults
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r} (known: {', '.join(PROFILES)})")
    return {**PROFILES[profile], **(faults or {})}
