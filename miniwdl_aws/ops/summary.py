"""The end-of-run summary: what each task's Batch jobs did and what they cost.

:func:`build_summary` turns DescribeJobs results into a JSON-ready dict (pure, no AWS calls);
:func:`format_table` renders it as a short text table; :func:`summarize_run` fetches the jobs of
a run (:mod:`.runs`) and builds it. :func:`workflow_summary_plugin` is a miniwdl workflow plugin
(entry point group ``miniwdl.plugin.workflow``) that writes ``aws_batch_summary.json`` into the
top-level run directory and logs the table when a run on the AWS Batch backend ends, whether it
succeeded or failed. It needs no change in the backend: it finds the jobs by the process's run
id (:func:`miniwdl_aws.naming.process_run_id`), which the backend puts in every job name.

Resource figures come from each job's ``resourceRequirements`` (VCPU, MEMORY in MiB) times the
time its attempts spent running; they are an estimate of what was *reserved*, not billed.

Each ended attempt, and each ended job, carries the ``outcome`` (kind) and ``rule`` that
:func:`miniwdl_aws.reasons.classify` gives it -- the same table the backend decides retries by --
and ``spot_interruptions`` counts the attempts whose rule is a host loss.

When the shared filesystem is mounted where the summary is made (always for the end-of-run
plugin), :func:`collect_local` adds what the run left there: each attempt's sampled usage
(:mod:`miniwdl_aws.usage`: peak memory, mean and peak CPU, against the vCPUs and memory it
requested), per task a right-sizing note (:func:`rightsizing_note`) and used resource-hours, and
miniwdl's own verdict: a task whose job SUCCEEDED but which miniwdl failed afterwards (its
outputs could not be collected) is FAILED. With ``[aws] price_per_vcpu_hour`` /
``price_per_gib_hour`` set, the requested resource-hours become a cost estimate.
"""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any, Dict, Generator, List, Optional, Sequence, Tuple

from .. import naming, reasons, usage
from .._util import _
from ..aws.batch import BatchApi, requested_resources
from ..aws.clients import AwsClients
from .runs import ACTIVE_STATUSES, expand_arrays, find_run_jobs, status_counts

__all__ = [
    "SUMMARY_FILE",
    "SCHEMA",
    "build_summary",
    "format_table",
    "summarize_run",
    "collect_local",
    "write_summary",
    "workflow_summary_plugin",
    "task_summary_plugin",
]

SUMMARY_FILE = "aws_batch_summary.json"
SCHEMA = "miniwdl-aws/run-summary/1"

# the rows of the shared table that mean a Spot reclaim or other loss of the host
_HOST_LOST_RULES = frozenset(rule.name for rule in reasons.RULES if rule.host_lost)


def _resources(job: Dict[str, Any]) -> Tuple[float, float]:
    """(vCPUs, memory MiB) requested by a job: resourceRequirements, else the legacy fields."""
    vcpus, memory = requested_resources(job.get("container") or {})
    return vcpus or 0.0, memory or 0.0


def _secs(start_ms: Optional[int], end_ms: Optional[int]) -> float:
    if not start_ms or not end_ms or end_ms < start_ms:
        return 0.0
    return (end_ms - start_ms) / 1000.0


def _attempts(job: Dict[str, Any], now_ms: int) -> List[Dict[str, Any]]:
    """The job's Batch attempts, plus the current one while it runs (Batch lists an attempt
    only once it has ended)."""
    out: List[Dict[str, Any]] = []
    for att in job.get("attempts") or []:
        att_container = att.get("container") or {}
        out.append(
            _attempt_entry(
                att.get("startedAt") or None,
                att.get("stoppedAt") or None,
                att.get("statusReason", ""),
                att_container.get("exitCode"),
                att_container.get("reason", ""),
                att_container,
                _secs(att.get("startedAt"), att.get("stoppedAt")),
            )
        )
    started = job.get("startedAt") or 0
    stopped = job.get("stoppedAt") or 0
    container = job.get("container") or {}
    running = job.get("status") in ("STARTING", "RUNNING") and started and not stopped
    if running and (not out or (out[-1]["started_at"] or 0) < started):
        out.append(_attempt_entry(started, None, "", None, "", container, _secs(started, now_ms)))
    elif not out and started and stopped:
        # a finished job that ran but lists no attempts (older APIs, some emulators)
        out.append(
            _attempt_entry(
                started,
                stopped,
                job.get("statusReason", ""),
                container.get("exitCode"),
                container.get("reason", ""),
                container,
                _secs(started, stopped),
            )
        )
    return out


def _attempt_entry(
    started: Optional[int],
    stopped: Optional[int],
    status_reason: str,
    exit_code: Optional[int],
    reason: str,
    container: Dict[str, Any],
    running_seconds: float,
) -> Dict[str, Any]:
    # an attempt still running has no outcome yet
    verdict = reasons.classify(None, status_reason, reason, exit_code) if stopped else None
    return {
        "started_at": started,
        "stopped_at": stopped,
        "status_reason": status_reason,
        "exit_code": exit_code,
        "reason": reason,
        "log_stream": container.get("logStreamName", ""),
        "running_seconds": running_seconds,
        "outcome": verdict.kind if verdict else None,
        "rule": verdict.rule if verdict else None,
    }


def task_dir_of(job: Dict[str, Any]) -> str:
    """The task's directory on the shared filesystem: where the backend wrote the attempt's
    container script, which the job runs (``/bin/bash <task dir>/batch_task<N>.sh``)."""
    command = (job.get("container") or {}).get("command") or []
    script = str(command[-1]) if command else ""
    name = os.path.basename(script)
    if script.startswith("/") and name.startswith("batch_task") and name.endswith(".sh"):
        return os.path.dirname(script)
    return ""


def _usage_of_attempts(
    attempts: List[Dict[str, Any]], series: Sequence[usage.UsageSeries], vcpus: float, mib: float
) -> None:
    """Put each usage series on its Batch attempt (by ``AWS_BATCH_JOB_ATTEMPT``, else in order),
    with the resources that attempt requested."""
    by_attempt = {s.batch_attempt: s for s in series if s.batch_attempt}
    for i, att in enumerate(attempts):
        att["vcpus"], att["memory_mib"] = vcpus, mib
        found = by_attempt.get(i + 1) or (series[i] if not by_attempt and i < len(series) else None)
        att["usage"] = usage.series_stats(found) if found and found.points else None


def _job_usage(attempts: List[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """The job's usage over its sampled attempts: CPU and memory peaks, means and used hours."""
    used = [a["usage"] for a in attempts if a.get("usage") and a["usage"]["samples"] >= 2]
    if not used:
        return None
    wall = sum(u["wall_seconds"] for u in used)
    cpu = sum(u["cpu_seconds"] for u in used)
    return {
        "samples": sum(u["samples"] for u in used),
        "sources": sorted({u["source"] for u in used}),
        "cpu_seconds": round(cpu, 3),
        "mean_cpu": round(cpu / wall, 3) if wall > 0 else 0.0,
        "peak_cpu": max(u["peak_cpu"] for u in used),
        "peak_memory_mib": max(u["peak_memory_mib"] for u in used),
        "used_vcpu_hours": cpu / 3600.0,
        "used_gib_hours": sum(u["mean_memory_mib"] / 1024.0 * u["wall_seconds"] for u in used)
        / 3600.0,
    }


def _job_entry(
    job: Dict[str, Any], now_ms: int, series: Sequence[usage.UsageSeries] = ()
) -> Dict[str, Any]:
    tags = job.get("tags") or {}
    container = job.get("container") or {}
    vcpus, memory = _resources(job)
    attempts = _attempts(job, now_ms)
    _usage_of_attempts(attempts, series, vcpus, memory)
    running = sum(a["running_seconds"] for a in attempts)
    created = job.get("createdAt") or 0
    end = job.get("stoppedAt") or (now_ms if job.get("status") in ACTIVE_STATUSES else 0)
    queued = max(0.0, _secs(created, end) - running)
    verdict = reasons.classify_job(job)
    interruptions = sum(1 for a in attempts if a["rule"] in _HOST_LOST_RULES)
    if not attempts and verdict is not None and verdict.host_lost:
        # no attempt listed (it never ran): the job's own reason is the only record
        interruptions = 1
    return {
        "job_id": job.get("jobId", ""),
        "job_name": job.get("jobName", ""),
        "queue": str(job.get("jobQueue", "")).rsplit("/", 1)[-1],
        "status": job.get("status", ""),
        "status_reason": job.get("statusReason", ""),
        "exit_code": container.get("exitCode"),
        "outcome": verdict.kind if verdict else None,
        "rule": verdict.rule if verdict else None,
        "miniwdl_attempt": _int(tags.get(naming.TAG_ATTEMPT)),
        "created_at": created or None,
        "started_at": job.get("startedAt") or None,
        "stopped_at": job.get("stoppedAt") or None,
        "queued_seconds": round(queued, 3),
        "running_seconds": round(running, 3),
        "vcpus": vcpus,
        "memory_mib": memory,
        "vcpu_hours": vcpus * running / 3600.0,
        "gib_hours": memory / 1024.0 * running / 3600.0,
        "spot_interruptions": interruptions,
        "task_dir": task_dir_of(job),
        "usage": _job_usage(attempts),
        "attempts": attempts,
    }


def _int(text: Optional[str]) -> Optional[int]:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _task_key(job: Dict[str, Any], run_id: str) -> str:
    tags = job.get("tags") or {}
    if tags.get(naming.TAG_CALL):
        return tags[naming.TAG_CALL]
    name = job.get("jobName", "")
    return name[len(run_id) + 1 :] if name.startswith(run_id + "-") else name


_SUMMED = ("queued_seconds", "running_seconds", "vcpu_hours", "gib_hours", "spot_interruptions")
_USED = ("used_vcpu_hours", "used_gib_hours")
_GIB = 1024.0


def _mem_text(mib: float) -> str:
    return f"{mib / _GIB:.1f} GiB" if mib >= _GIB else f"{mib:.0f} MiB"


def rightsizing_note(vcpus: float, memory_mib: float, used: Optional[Dict[str, Any]]) -> str:
    """A note when a request is far from what the task used ("memory 16 GiB, peak 2.1 GiB"), or
    when memory came near its limit; empty when the request fits or nothing was sampled."""
    if not used:
        return ""
    notes = []
    peak = float(used["peak_memory_mib"])
    if memory_mib and peak >= 0.9 * memory_mib:
        notes.append(f"memory {_mem_text(memory_mib)} near its limit, peak {_mem_text(peak)}")
    elif memory_mib >= 2 * peak and memory_mib - peak >= _GIB:
        notes.append(f"memory {_mem_text(memory_mib)}, peak {_mem_text(peak)}")
    if vcpus >= 2 and used["peak_cpu"] < vcpus / 2:
        notes.append(f"cpu {vcpus:g}, peak {used['peak_cpu']:.1f} (mean {used['mean_cpu']:.1f})")
    return "; ".join(notes)


def _cost(entry: Dict[str, Any], prices: Tuple[float, float]) -> float:
    return entry["vcpu_hours"] * prices[0] + entry["gib_hours"] * prices[1]


def collect_local(
    jobs: Sequence[Dict[str, Any]], run_dir: Optional[str] = None
) -> Tuple[Dict[str, List[usage.UsageSeries]], Dict[str, str]]:
    """What the run left on the shared filesystem, when it is mounted here: the usage series of
    each job (from its task directory, else found under ``run_dir``) and miniwdl's error message
    of each task directory holding an ``error.json``."""
    series: Dict[str, List[usage.UsageSeries]] = {}
    errors: Dict[str, str] = {}
    dirs = {task_dir_of(j) for j in jobs} - {""}
    for d in dirs:
        try:
            names = os.listdir(d)
        except OSError:
            continue
        for name in names:
            if name.startswith("usage") and name.endswith(".tsv"):
                for one in usage.read_usage(os.path.join(d, name)):
                    if one.job_id:
                        series.setdefault(one.job_id, []).append(one)
        if "error.json" in names:
            errors[d] = _error_message(os.path.join(d, "error.json"))
    if not series and run_dir and os.path.isdir(run_dir):
        series = usage.find_usage_files(run_dir)
    return series, errors


def _error_message(path: str) -> str:
    try:
        with open(path) as infile:
            doc = json.load(infile)
    except (OSError, ValueError):
        return "miniwdl reported an error (error.json unreadable)"
    cause = doc.get("cause") if isinstance(doc.get("cause"), dict) else doc
    text = str(cause.get("message") or doc.get("message") or doc.get("error") or "error")
    return f"{cause.get('error', doc.get('error', 'error'))}: {text}"[:300]


def build_summary(
    run_id: str,
    jobs: Sequence[Dict[str, Any]],
    now: Optional[float] = None,
    api_calls: Optional[Dict[str, int]] = None,
    usage_series: Optional[Dict[str, List[usage.UsageSeries]]] = None,
    task_errors: Optional[Dict[str, str]] = None,
    prices: Optional[Tuple[float, float]] = None,
) -> Dict[str, Any]:
    """The run summary (JSON-ready) from DescribeJobs results of one run.

    Task jobs are grouped per task (the ``MiniwdlCall`` tag; several jobs when miniwdl retried
    the task), in the order they were first submitted; the workflow job, if any, is listed apart.
    ``usage_series`` (by job id) and ``task_errors`` (by task directory) come from
    :func:`collect_local`: a task whose last job SUCCEEDED but whose directory holds miniwdl's
    ``error.json`` (it failed collecting its outputs) is FAILED, with miniwdl's message.
    ``prices`` (per vCPU-hour, per GiB-hour) add a cost estimate when either is non-zero.
    """
    usage_series = usage_series or {}
    task_errors = task_errors or {}
    priced = prices if prices and any(p > 0 for p in prices) else None
    now_ms = int((time.time() if now is None else now) * 1000)
    tasks: Dict[str, Dict[str, Any]] = {}
    workflow_jobs: List[Dict[str, Any]] = []
    ordered = sorted(jobs, key=lambda j: (j.get("createdAt") or 0, j.get("jobName", "")))
    for job in ordered:
        entry = _job_entry(job, now_ms, usage_series.get(job.get("jobId", ""), ()))
        if (job.get("tags") or {}).get(naming.TAG_ROLE) == "workflow":
            workflow_jobs.append(entry)
            continue
        key = _task_key(job, run_id)
        task = tasks.setdefault(key, {"task": key, "jobs": []})
        task["jobs"].append(entry)
    for task in tasks.values():
        entries = task["jobs"]
        last = entries[-1]
        task["status"] = last["status"]
        task["status_reason"] = last["status_reason"]
        task["queues"] = sorted({e["queue"] for e in entries})
        task["attempts"] = sum(max(1, len(e["attempts"])) for e in entries)
        error = task_errors.get(last["task_dir"])
        if error and last["status"] == "SUCCEEDED":
            # the job ran fine but miniwdl failed the task after it (e.g. collecting outputs)
            task["status"], task["status_reason"] = "FAILED", error
        for field in _SUMMED:
            task[field] = _round(field, sum(e[field] for e in entries))
        for field in _USED:
            task[field] = sum((e["usage"] or {}).get(field, 0.0) for e in entries)
        sampled = [e["usage"] for e in entries if e["usage"]]
        task["peak_memory_mib"] = max((u["peak_memory_mib"] for u in sampled), default=None)
        task["peak_cpu"] = max((u["peak_cpu"] for u in sampled), default=None)
        task["mean_cpu"] = last["usage"]["mean_cpu"] if last["usage"] else None
        task["vcpus"], task["memory_mib"] = last["vcpus"], last["memory_mib"]
        task["note"] = rightsizing_note(last["vcpus"], last["memory_mib"], last["usage"])
        if priced:
            task["cost_estimate"] = round(sum(_cost(e, priced) for e in entries), 4)
    task_list = list(tasks.values())
    all_entries = [e for t in task_list for e in t["jobs"]]
    totals: Dict[str, Any] = {
        "tasks": len(task_list),
        "jobs": len(all_entries),
        "attempts": sum(t["attempts"] for t in task_list),
        "statuses": status_counts(all_entries),
        "task_statuses": status_counts(task_list),
    }
    for field in _SUMMED:
        totals[field] = _round(field, sum(e[field] for e in all_entries))
    for field in _USED:
        totals[field] = sum(t[field] for t in task_list)
    totals["sampled_jobs"] = sum(1 for e in all_entries if e["usage"])
    totals["rightsizing_notes"] = sum(1 for t in task_list if t["note"])
    if priced:
        totals["cost_estimate"] = round(sum(_cost(e, priced) for e in all_entries), 4)
        totals["prices"] = {"per_vcpu_hour": priced[0], "per_gib_hour": priced[1]}
    summary: Dict[str, Any] = {
        "schema": SCHEMA,
        "run_id": run_id,
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now_ms / 1000)),
        "tasks": task_list,
        "workflow_jobs": workflow_jobs,
        "totals": totals,
    }
    if api_calls is not None:
        summary["api_calls"] = dict(api_calls)
    return summary


def _round(field: str, x: float) -> float:
    # seconds to the millisecond (Batch's resolution); resource-hours unrounded
    return round(x, 3) if field.endswith("_seconds") else x


def _dur(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def _use_text(used: Optional[float], requested: float, unit: str) -> str:
    if used is None:
        return "-"
    if unit == "mem":
        return f"{_mem_text(used)}/{_mem_text(requested)}"
    return f"{used:.1f}/{requested:g}"


def format_table(summary: Dict[str, Any], max_rows: int = 50) -> str:
    """A short fixed-width table of the summary: one row per task (with peak memory and peak CPU
    against the request when sampled), the totals, then used against requested resource-hours,
    the cost estimate, and the right-sizing notes."""
    header = (
        "TASK", "STATUS", "JOBS", "TRIES", "QUEUED", "RUNNING", "vCPU-h", "GiB-h", "SPOT",
        "MEM PEAK/REQ", "CPU PEAK/REQ",
    )  # fmt: skip
    rows: List[Tuple[str, ...]] = []
    for task in summary["tasks"][:max_rows]:
        rows.append(
            (
                task["task"],
                task["status"],
                str(len(task["jobs"])),
                str(task["attempts"]),
                _dur(task["queued_seconds"]),
                _dur(task["running_seconds"]),
                f"{task['vcpu_hours']:.3f}",
                f"{task['gib_hours']:.3f}",
                str(task["spot_interruptions"]),
                _use_text(task.get("peak_memory_mib"), task.get("memory_mib") or 0, "mem"),
                _use_text(task.get("peak_cpu"), task.get("vcpus") or 0, "cpu"),
            )
        )
    blank = ("",) * (len(header) - 1)
    if len(summary["tasks"]) > max_rows:
        rows.append((f"... {len(summary['tasks']) - max_rows} more", *blank))
    t = summary["totals"]
    rows.append(
        (
            f"TOTAL ({t['tasks']} tasks)",
            " ".join(f"{k}={v}" for k, v in t["statuses"].items()),
            str(t["jobs"]),
            str(t["attempts"]),
            _dur(t["queued_seconds"]),
            _dur(t["running_seconds"]),
            f"{t['vcpu_hours']:.3f}",
            f"{t['gib_hours']:.3f}",
            str(t["spot_interruptions"]),
            "",
            "",
        )
    )
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header, *rows]]
    if t.get("sampled_jobs"):
        lines.append(
            f"used {t['used_vcpu_hours']:.3f} of {t['vcpu_hours']:.3f} vCPU-h and"
            f" {t['used_gib_hours']:.3f} of {t['gib_hours']:.3f} GiB-h requested"
            f" ({t['sampled_jobs']} of {t['jobs']} jobs sampled)"
        )
    if "cost_estimate" in t:
        lines.append(
            f"cost estimate {t['cost_estimate']:.4f} (requested resources x running time x"
            " [aws] price_per_vcpu_hour/price_per_gib_hour; not a bill)"
        )
    notes = [task for task in summary["tasks"] if task.get("note")]
    for task in notes[:max_rows]:
        lines.append(f"right-sizing: {task['task']}: {task['note']}")
    if len(notes) > max_rows:
        lines.append(f"right-sizing: ... {len(notes) - max_rows} more in the summary file")
    failed = [t for t in summary["tasks"] if t["status"] == "FAILED" and t.get("status_reason")]
    for task in failed[:5]:
        lines.append(f"failed: {task['task']}: {task['status_reason'][:200]}")
    return "\n".join(lines)


def summarize_run(
    clients: AwsClients,
    run_id: str,
    queues: Optional[Sequence[str]] = None,
    run_dir: Optional[str] = None,
    prices: Optional[Tuple[float, float]] = None,
    series_out: Optional[Dict[str, List[usage.UsageSeries]]] = None,
) -> Dict[str, Any]:
    """Fetch the jobs of ``run_id`` from Batch and build its summary (with the API call counts:
    one ListJobs page per queue, one DescribeJobs per 100 jobs), with the usage samples and
    miniwdl's task errors read from the shared filesystem when it is mounted here. The usage
    series read go into ``series_out`` too, for the report (not read twice from EFS)."""
    api = BatchApi(clients)
    jobs = expand_arrays(api, find_run_jobs(api, run_id, queues))
    series, errors = collect_local(jobs, run_dir)
    if series_out is not None:
        series_out.update(series)
    return build_summary(
        run_id,
        jobs,
        api_calls=api.operation_counts(),
        usage_series=series,
        task_errors=errors,
        prices=prices,
    )


def write_summary(run_dir: str, summary: Dict[str, Any]) -> str:
    """Write the summary as ``aws_batch_summary.json`` in ``run_dir`` (atomically); its path."""
    path = os.path.join(run_dir, SUMMARY_FILE)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as outfile:
        json.dump(summary, outfile, indent=2)
        outfile.write("\n")
    os.replace(tmp, path)
    return path


def _summary_settings(cfg: Any) -> Optional[Tuple[List[str], str, Tuple[float, float]]]:
    """(task queues, region, prices) when this run uses our backend, else None."""
    backend = cfg.get("scheduler", "container_backend", "")
    if not str(backend).startswith("aws_batch_job"):
        return None
    from .. import config  # at the edge only: the plugin reads [aws] like the backend does

    queues = [config.read_option(cfg, "task_queue"), config.read_option(cfg, "task_queue_fallback")]
    prices = (
        float(config.read_option(cfg, "price_per_vcpu_hour")),
        float(config.read_option(cfg, "price_per_gib_hour")),
    )
    return [q for q in queues if q], config.read_option(cfg, "region"), prices


def _emit(logger: logging.Logger, cfg: Any, run_dir: str) -> None:
    settings = _summary_settings(cfg)
    if settings is None:
        return
    queues, region, prices = settings
    run_id = naming.process_run_id()
    series: Dict[str, List[usage.UsageSeries]] = {}
    try:
        clients = AwsClients(region or None)
        summary = summarize_run(clients, run_id, queues or None, run_dir, prices, series)
        path = write_summary(run_dir, summary)
    except Exception as exn:  # the summary must never change the run's outcome
        logger.warning(_("AWS Batch run summary failed", run_id=run_id, error=str(exn)))
        return
    logger.notice(  # type: ignore[attr-defined]
        _("AWS Batch run summary", run_id=run_id, file=path, **summary["totals"])
    )
    try:
        from . import report  # report imports this module

        logger.notice(  # type: ignore[attr-defined]
            _("run report", file=report.write_report(run_dir, summary, series))
        )
    except Exception as exn:  # nor may the report
        logger.warning(_("run report failed", run_id=run_id, error=str(exn)))
    for line in format_table(summary).splitlines():
        logger.notice(line)  # type: ignore[attr-defined]


def _summary_rounds(
    cfg: Any, logger: logging.Logger, top_level: bool, run_dir: str, recv: Dict[str, Any]
) -> Generator[Dict[str, Any], Dict[str, Any], None]:
    """Pass every plugin round through unchanged; once the outputs arrive (the run is done) or an
    exception is thrown in (the run failed), emit the summary if this is the top-level run."""
    try:
        while "outputs" not in recv:
            recv = yield recv
    except Exception:
        if top_level:
            _emit(logger, cfg, run_dir)
        raise
    if top_level:
        _emit(logger, cfg, run_dir)
    # miniwdl closes its plugins after the outputs round, so the summary is written above,
    # before the outputs are passed back
    while True:
        recv = yield recv


def workflow_summary_plugin(
    cfg: Any,
    logger: logging.Logger,
    run_id: List[str],
    run_dir: str,
    workflow: Any,
    **recv: Any,
) -> Generator[Dict[str, Any], Dict[str, Any], None]:
    """miniwdl workflow plugin (``miniwdl.plugin.workflow``): when the top-level workflow of a
    run on the AWS Batch backend ends, write ``aws_batch_summary.json`` and log its table."""
    return (yield from _summary_rounds(cfg, logger, len(run_id) == 1, run_dir, recv))


def task_summary_plugin(
    cfg: Any,
    logger: logging.Logger,
    run_id: List[str],
    run_dir: str,
    task: Any,
    **recv: Any,
) -> Generator[Dict[str, Any], Dict[str, Any], None]:
    """miniwdl task plugin (``miniwdl.plugin.task``): the same for a run of a single task
    (``miniwdl run task.wdl``); tasks called by a workflow are left to the workflow plugin."""
    return (yield from _summary_rounds(cfg, logger, len(run_id) == 1, run_dir, recv))
