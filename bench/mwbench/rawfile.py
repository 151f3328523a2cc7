"""Raw files of recorded runs (``bench/results/<UTC date>-<commit>-ours.json`` and
``-theirs.json``): the measurements with their per-job records, and what produced them (git
commit and dirty state, machine, settings, command line).

Format ``mwbench-raw/2`` is one JSON object::

    {"format": "mwbench-raw/2", "complete": true, "started_utc": "...", "git": {...},
     "machine": {...}, "settings": {...}, "argv": [...], "reused_from": [...],
     "measurements": [Measurement.to_dict(), ...]}

Files written before it (a bare list of measurements without per-job records, e.g.
``2026-11-25-theirs.json``) still load, with the git state unknown. A file is gzipped (``.gz``
appended to its name) when its JSON is larger than :data:`GZIP_ABOVE` bytes.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

from .bench import Measurement
from .provenance import GitState
from .sides import THEIRS

FORMAT = "mwbench-raw/2"
GZIP_ABOVE = 3_000_000
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass
class RawRun:
    """A raw file's content. ``git`` is None for files that predate it; ``source`` is the file
    it was loaded from (not stored)."""

    measurements: List[Measurement]
    git: Optional[GitState] = None
    started_utc: str = ""
    machine: Dict[str, str] = field(default_factory=dict)
    settings: Dict[str, str] = field(default_factory=dict)
    argv: List[str] = field(default_factory=list)
    reused_from: List[str] = field(default_factory=list)
    complete: bool = True
    source: Optional[Path] = None

    def to_dict(self) -> Dict[str, Any]:
        """The ``mwbench-raw/2`` object."""
        return {
            "format": FORMAT,
            "complete": self.complete,
            "started_utc": self.started_utc,
            "git": None if self.git is None else self.git.to_dict(),
            "machine": self.machine,
            "settings": self.settings,
            "argv": self.argv,
            "reused_from": self.reused_from,
            "measurements": [m.to_dict() for m in self.measurements],
        }


def to_json(run: RawRun) -> str:
    """Run-level fields one per line, each measurement on one line (diffable, small)."""
    d = run.to_dict()
    ms = d.pop("measurements")
    head = ",\n".join(f" {json.dumps(k)}: {json.dumps(v)}" for k, v in d.items())
    body = ",\n".join("  " + json.dumps(m, separators=(",", ":")) for m in ms)
    return "{\n" + head + ',\n "measurements": [\n' + body + "\n ]\n}\n"


def dump(run: RawRun, path: Path) -> Path:
    """Write ``run`` to ``path`` (gzipped if the name ends in ``.gz``); returns ``path``."""
    data = to_json(run).encode()
    path.write_bytes(gzip.compress(data, mtime=0) if path.name.endswith(".gz") else data)
    return path


def dump_sized(run: RawRun, path: Path) -> Path:
    """Write ``run`` to ``path`` (a ``.json`` name), or to ``path`` + ``.gz`` if the JSON is
    larger than :data:`GZIP_ABOVE`, removing the other one if an earlier write left it. Returns
    the path written."""
    data = to_json(run).encode()
    gz = path.with_name(path.name + ".gz")
    target, other = (gz, path) if len(data) > GZIP_ABOVE else (path, gz)
    target.write_bytes(gzip.compress(data, mtime=0) if target is gz else data)
    other.unlink(missing_ok=True)
    return target


def load(path: Path) -> RawRun:
    """Read a raw file of either format, gzipped or not."""
    data = path.read_bytes()
    if data[:2] == _GZIP_MAGIC:
        data = gzip.decompress(data)
    doc = json.loads(data)
    if isinstance(doc, list):  # before mwbench-raw/2: measurements only
        return RawRun([Measurement.from_dict(d) for d in doc], source=path)
    if doc.get("format") != FORMAT:
        raise ValueError(f"{path}: not an mwbench raw file (format {doc.get('format')!r})")
    git = doc.get("git")
    return RawRun(
        [Measurement.from_dict(d) for d in doc["measurements"]],
        git=None if git is None else GitState.from_dict(git),
        started_utc=str(doc.get("started_utc", "")),
        machine=dict(doc.get("machine") or {}),
        settings=dict(doc.get("settings") or {}),
        argv=list(doc.get("argv") or []),
        reused_from=list(doc.get("reused_from") or []),
        complete=bool(doc.get("complete", True)),
        source=path,
    )


def file_side(m: Measurement) -> str:
    """Which automatic raw file a measurement goes to: ``theirs`` for 0.12.2, else ``ours``
    (our runner and the boto3 floor, both measured with this repository's code)."""
    return "theirs" if m.side == THEIRS else "ours"


def auto_path(directory: Path, date: str, commit: str, side: str) -> Path:
    """``<directory>/<date>-<commit>-<side>.json``; ``-2``, ``-3``, ... before ``.json`` if that
    name (or its ``.gz``) is taken, so an earlier run's file is never overwritten."""
    n = 1
    while True:
        suffix = "" if n == 1 else f"-{n}"
        path = directory / f"{date}-{commit}-{side}{suffix}.json"
        if not path.exists() and not path.with_name(path.name + ".gz").exists():
            return path
        n += 1
