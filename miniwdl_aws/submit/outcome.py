"""What a finished run says to the person who waited for it: why it failed, in one short
paragraph, and where its log, run directory and outputs are.

miniwdl's ``error.json`` nests its causes (``RunFailed`` > ``CommandFailed``...) and the task
backend adds the Batch job's details to it, 1,200 characters and more; :func:`error_paragraph`
keeps what a person acts on: the failed call, the error, the exit status or Batch's reason, and
the last line of the task's stderr when this machine can read it. The error is looked for where
the run left it, first found wins (:func:`find_error`): the run directory on the shared
filesystem (when this machine mounts it), the run's S3 folder (``--s3upload``), and the workflow
log, where the wrapper prints miniwdl's ``--error-json`` document after miniwdl exits.
"""

from __future__ import annotations

import glob
import json
import os
import tempfile
import textwrap
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence

WIDTH = 78  # columns of the paragraph: with our 21-column prefix, a line fits 100 columns
_STDERR_TAIL_MAX = 160  # characters of the task's last stderr line
_WRAPPER_SETUP_ERROR = "[miniwdl-aws-workflow] error before the run started: "


@dataclass(frozen=True)
class FoundError:
    """miniwdl's error document and where it was found (``EFS``, ``S3``, ``log``)."""

    doc: Dict[str, Any]
    source: str


def error_from_run_dir(home: str) -> Optional[Dict[str, Any]]:
    """The newest ``error.json`` of the run under ``home`` (its own directory on the shared
    filesystem), when this machine can see it."""
    candidates = [os.path.join(home, "error.json")] + glob.glob(
        os.path.join(home, "*", "error.json")
    )
    found = [p for p in candidates if os.path.isfile(p)]
    if not found:
        return None
    newest = max(found, key=lambda p: os.stat(p).st_mtime)
    return _load(newest)


def error_from_s3(download: Callable[[str, str], None], folder: str) -> Optional[Dict[str, Any]]:
    """``error.json`` of the run's S3 folder (uploaded by the wrapper), or None. ``download``
    copies an S3 URI to a local file and raises when it cannot."""
    with tempfile.TemporaryDirectory(prefix="miniwdl_aws_outcome_") as tmp:
        dest = os.path.join(tmp, "error.json")
        try:
            download(folder + "error.json", dest)
        except Exception:  # absent (a run that failed before uploading) or unreadable
            return None
        return _load(dest)


def error_from_log(lines: Sequence[str]) -> Optional[Dict[str, Any]]:
    """miniwdl's error document from the workflow log: the JSON block the wrapper prints after
    miniwdl exits (miniwdl's ``--error-json``), else the wrapper's own setup error, else the
    last ERROR line of miniwdl's log."""
    end = None
    for i in range(len(lines) - 1, -1, -1):
        if lines[i] == "}" and end is None:
            end = i
        elif lines[i] == "{" and end is not None:
            try:
                doc = json.loads("\n".join(lines[i : end + 1]))
            except ValueError:
                end = None
                continue
            if isinstance(doc, dict) and "error" in doc:
                return doc
            end = None
    for line in reversed(lines):
        if line.startswith(_WRAPPER_SETUP_ERROR):
            return {"error": "SetupFailed", "message": line[len(_WRAPPER_SETUP_ERROR) :]}
    for line in reversed(lines):
        if " ERROR " in line:
            text = line.split(" ERROR ", 1)[1]
            return {"error": "Error", "message": text.split(" :: ", 1)[0]}
    return None


def find_error(
    home: Optional[str],
    s3_folder: Optional[str],
    download: Optional[Callable[[str, str], None]],
    log_lines: Callable[[], Sequence[str]],
) -> Optional[FoundError]:
    """The run's error from the first place that has it: the run directory, S3, the log."""
    if home and os.path.isdir(home):
        doc = error_from_run_dir(home)
        if doc:
            return FoundError(doc, "EFS")
    if s3_folder and download is not None:
        doc = error_from_s3(download, s3_folder)
        if doc:
            return FoundError(doc, "S3")
    doc = error_from_log(log_lines())
    return FoundError(doc, "log") if doc else None


def _load(path: str) -> Optional[Dict[str, Any]]:
    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def _innermost(doc: Dict[str, Any]) -> Dict[str, Any]:
    """The deepest ``cause`` of a nested miniwdl error (the failure itself)."""
    seen = 0
    while isinstance(doc.get("cause"), dict) and seen < 20:
        doc = doc["cause"]
        seen += 1
    return doc


def _last_line(path: Any) -> str:
    """The last non-empty line of a local text file (a task's stderr), shortened; "" when this
    machine cannot read it."""
    if not isinstance(path, str) or not os.path.isfile(path):
        return ""
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.path.getsize(path) - 4096))
            tail = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    lines = [ln.strip() for ln in tail.splitlines() if ln.strip()]
    if not lines:
        return ""
    last = lines[-1]
    return last if len(last) <= _STDERR_TAIL_MAX else last[: _STDERR_TAIL_MAX - 1] + "…"


def error_sentence(doc: Dict[str, Any]) -> str:
    """One sentence of what failed and why, from miniwdl's (nested) error document."""
    inner = _innermost(doc)
    kind = str(inner.get("error") or doc.get("error") or "error")
    call = inner.get("run") if inner is not doc else None
    parts: List[str] = []
    message = " ".join(str(inner.get("message") or "").split())
    if len(message) > 240:
        message = message[:239] + "…"
    status = inner.get("exit_status", inner.get("exitCode"))
    head = f"{call} failed: {kind}" if call else kind
    if message:
        head += f": {message}"
    elif status is not None:
        head += f", exit status {status}"
    parts.append(head)
    reason = inner.get("statusReason")
    if reason and reason != "Essential container in task exited":
        parts.append(f"Batch: {reason}")
    tail = _last_line(inner.get("stderr_file"))
    if tail:
        parts.append(f"last stderr line: {tail!r}")
    return "; ".join(parts)


def error_paragraph(found: FoundError) -> List[str]:
    """The failure as lines of at most :data:`WIDTH` columns (a path longer than that is not
    broken), saying where it was read."""
    text = f"the run failed: {error_sentence(found.doc)} (from error.json, {found.source})"
    if found.source == "log":
        text = f"the run failed: {error_sentence(found.doc)} (from the workflow log)"
    return textwrap.wrap(text, WIDTH, break_long_words=False, break_on_hyphens=False)


_RUN_DIR_NOTE = "[miniwdl-aws-workflow] miniwdl exit code "


def run_dir_from_log(lines: Sequence[str]) -> Optional[str]:
    """miniwdl's run directory as the wrapper logged it after miniwdl exited, or None."""
    for line in reversed(lines):
        if line.startswith(_RUN_DIR_NOTE) and "; run directory " in line:
            return line.split("; run directory ", 1)[1].strip() or None
    return None


def run_dir_on_disk(home: str) -> Optional[str]:
    """miniwdl's run directory inside the run's own directory ``home`` (``<timestamp>_<name>``,
    or ``home`` itself for ``--dir X/.``), when this machine sees it; else None."""
    marks = ("outputs.json", "error.json", "workflow.log")
    if any(os.path.isfile(os.path.join(home, m)) for m in marks):
        return home
    # not through miniwdl's _LAST symlink: the same directory under a name nobody should keep
    found = [
        p
        for p in glob.glob(os.path.join(home, "*", "workflow.log"))
        if not os.path.islink(os.path.dirname(p))
    ]
    if not found:
        return None
    return os.path.dirname(max(found, key=lambda p: os.stat(p).st_mtime))


def run_dir_deleted(lines: Sequence[str]) -> bool:
    """Whether the wrapper logged deleting the run's directory (``--delete-after``)."""
    return any(ln.startswith("[miniwdl-aws-workflow] deleted ") for ln in lines)


def where_lines(
    run_id: str,
    log_group: str,
    log_stream: Optional[str],
    run_dir: str,
    succeeded: bool,
    deleted: bool = False,
) -> List[str]:
    """Where the run's log and directory are (the S3 folder is the caller's last line)."""
    out = []
    if log_stream:
        out.append(f"workflow log: `miniwdl-aws logs {run_id}`, or CloudWatch {log_group}")
        out.append(f"  {log_stream}")
    what = "outputs.json" if succeeded else "error.json, workflow.log, call-*/"
    if deleted:
        what = "deleted after the upload, --delete-after"
    out.append(f"run directory: {run_dir} ({what})")
    return out
