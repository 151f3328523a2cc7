"""``report.html``: one self-contained HTML page of a run (no network: inline CSS, JS and SVG).

:func:`report_data` reduces the run summary (:mod:`.summary`) and the usage samples
(:mod:`miniwdl_aws.usage`) to a compact JSON document; :func:`render_report` embeds it in the
page, whose script draws a timeline (one row per task attempt: queued, then running, coloured by
how the attempt ended; Spot interruptions and out-of-memory kills marked), usage charts per task
(memory and CPU over time against the request), a sortable, filterable table of tasks, and the
totals. Batch records no time for STARTING apart from RUNNABLE, so "queued" spans both.

Sized for 10,000-task runs: each usage series is cut to at most :data:`MAX_POINTS` points
(keeping each interval's peak), the timeline is one canvas, the table shows the first
:data:`TABLE_ROWS` rows of the current sort and filter, and charts are drawn for the tasks shown
(a dozen by default: the largest requests).

:func:`write_report` writes it (atomically) as ``report.html``; :func:`load_run` finds what to
report from a run directory (its ``aws_batch_summary.json``) or from Batch by run id.
"""

from __future__ import annotations

import html
import json
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .. import usage

__all__ = [
    "REPORT_FILE",
    "MAX_POINTS",
    "TABLE_ROWS",
    "report_data",
    "render_report",
    "write_report",
    "series_for_summary",
    "load_summary_file",
]

REPORT_FILE = "report.html"
MAX_POINTS = 40
TABLE_ROWS = 1000


def _downsample(points: Sequence[Tuple[float, float, float]]) -> List[List[float]]:
    """At most MAX_POINTS [t, cpu, mem]: per bucket, its last time and its peaks (a chart of
    peaks must not hide the one that mattered)."""
    if len(points) <= MAX_POINTS:
        return [[round(t, 1), round(c, 2), round(m, 1)] for t, c, m in points]
    out: List[List[float]] = []
    step = len(points) / MAX_POINTS
    for i in range(MAX_POINTS):
        chunk = points[int(i * step) : max(int((i + 1) * step), int(i * step) + 1)]
        out.append(
            [
                round(chunk[-1][0], 1),
                round(max(p[1] for p in chunk), 2),
                round(max(p[2] for p in chunk), 1),
            ]
        )
    return out


def _rates(series: usage.UsageSeries) -> List[Tuple[float, float, float]]:
    """(t s, CPU in vCPUs over the interval ending at t, memory MiB) from cumulative samples."""
    out = []
    pts = series.points
    for i, (t, cpu, mem) in enumerate(pts):
        rate = 0.0
        if i > 0 and t > pts[i - 1][0]:
            rate = max(0.0, cpu - pts[i - 1][1]) / (t - pts[i - 1][0])
        out.append((t, rate, mem / 1048576.0))
    return out


def series_for_summary(
    summary: Dict[str, Any], run_dir: Optional[str] = None
) -> Dict[str, List[usage.UsageSeries]]:
    """The usage series of the summary's jobs, by job id: from each job's task directory, else
    found under ``run_dir``."""
    found: Dict[str, List[usage.UsageSeries]] = {}
    for task in summary.get("tasks", []):
        for job in task.get("jobs", []):
            d = job.get("task_dir") or ""
            if not d or not os.path.isdir(d):
                continue
            for name in sorted(os.listdir(d)):
                if name.startswith("usage") and name.endswith(".tsv"):
                    for one in usage.read_usage(os.path.join(d, name)):
                        if one.job_id:
                            found.setdefault(one.job_id, []).append(one)
    if not found and run_dir and os.path.isdir(run_dir):
        found = usage.find_usage_files(run_dir)
    return found


def _category(att: Dict[str, Any]) -> str:
    """How an ended attempt is drawn: ok, oom, spot (host lost), interrupted or failed."""
    if att.get("outcome") == "exit" and att.get("exit_code") == 0:
        return "ok"
    if att.get("outcome") == "oom":
        return "oom"
    if att.get("rule") == "host_lost":
        return "spot"
    return "interrupted" if att.get("outcome") == "interrupted" else "failed"


def _segments(job: Dict[str, Any], end_ms: int) -> List[List[Any]]:
    """A job's rows of the timeline, one per attempt: [queued from, running from, running until,
    outcome, rule, queue, Batch attempt number, still running] (the caller adds miniwdl's try,
    memory MiB and vCPUs requested)."""
    rows: List[List[Any]] = []
    wait_from = job.get("created_at") or 0
    for n, att in enumerate(job.get("attempts") or [], 1):
        start = att.get("started_at") or 0
        stop = att.get("stopped_at") or 0
        rows.append(
            [
                wait_from or start,
                start,
                stop or end_ms,
                _category(att) if stop else "running",
                att.get("rule") or "",
                job.get("queue", ""),
                n,
                0 if stop else 1,
            ]
        )
        wait_from = stop or end_ms
    if not rows and wait_from:
        # never started: queued until it ended or until now
        stop = job.get("stopped_at") or end_ms
        rows.append([wait_from, stop, stop, "queued", job.get("rule") or "",
                     job.get("queue", ""), 0, 0 if job.get("stopped_at") else 1])  # fmt: skip
    return rows


def report_data(
    summary: Dict[str, Any], series: Dict[str, List[usage.UsageSeries]]
) -> Dict[str, Any]:
    """The compact document the page's script draws from."""
    generated_ms = _generated_ms(summary)
    tasks: List[Dict[str, Any]] = []
    charts: List[List[List[float]]] = []
    t0 = None
    for task in summary.get("tasks", []):
        rows: List[List[Any]] = []
        chart: List[List[float]] = []
        offset = 0.0
        for job in task.get("jobs", []):
            for seg in _segments(job, generated_ms):
                # miniwdl's try, and what this attempt asked for (a retry after OOM may ask more)
                seg += [job.get("miniwdl_attempt") or 1, job.get("memory_mib") or 0]
                seg.append(job.get("vcpus") or 0)
                rows.append(seg)
                t0 = seg[0] if t0 is None else min(t0, seg[0])
            for one in series.get(job.get("job_id", ""), []):
                # attempts one after another on the chart's time axis
                pts = _rates(one)
                chart.extend((offset + t, c, m) for t, c, m in pts)  # type: ignore[misc]
                offset += pts[-1][0] if pts else 0.0
        ci = -1
        if chart:
            ci = len(charts)
            charts.append(_downsample(chart))  # type: ignore[arg-type]
        tasks.append(
            {
                "n": task.get("task", ""),
                "s": task.get("status", ""),
                "r": task.get("status_reason", "")[:300],
                "note": task.get("note", ""),
                "tries": task.get("attempts", 0),
                "spot": task.get("spot_interruptions", 0),
                "q": task.get("queued_seconds", 0),
                "run": task.get("running_seconds", 0),
                "vc": task.get("vcpus") or 0,
                "mem": task.get("memory_mib") or 0,
                "pm": task.get("peak_memory_mib"),
                "pc": task.get("peak_cpu"),
                "mc": task.get("mean_cpu"),
                "vh": round(task.get("vcpu_hours", 0), 5),
                "gh": round(task.get("gib_hours", 0), 5),
                "uvh": round(task.get("used_vcpu_hours", 0), 5),
                "ugh": round(task.get("used_gib_hours", 0), 5),
                "cost": task.get("cost_estimate"),
                "a": rows,
                "c": ci,
            }
        )
    return {
        "run_id": summary.get("run_id", ""),
        "generated_at": summary.get("generated_at", ""),
        "generated_ms": generated_ms,
        "t0": t0 or generated_ms,
        "totals": summary.get("totals", {}),
        "tasks": tasks,
        "charts": charts,
        "table_rows": TABLE_ROWS,
    }


def _generated_ms(summary: Dict[str, Any]) -> int:
    import calendar
    import time

    try:
        parsed = time.strptime(summary.get("generated_at", ""), "%Y-%m-%dT%H:%M:%SZ")
        return int(calendar.timegm(parsed) * 1000)
    except ValueError:
        return int(time.time() * 1000)


def render_report(summary: Dict[str, Any], series: Dict[str, List[usage.UsageSeries]]) -> str:
    """The page: the template with the data inlined (``</`` escaped so no string in the data
    can close the script element)."""
    data = json.dumps(report_data(summary, series), separators=(",", ":"))
    data = data.replace("</", "<\\/")
    title = html.escape(f"miniwdl-aws run {summary.get('run_id', '')}")
    return _TEMPLATE.replace("%%TITLE%%", title).replace("%%DATA%%", data)


def write_report(
    run_dir: str, summary: Dict[str, Any], series: Optional[Dict[str, List[usage.UsageSeries]]]
) -> str:
    """Write ``report.html`` into ``run_dir`` (atomically); its path."""
    if series is None:
        series = series_for_summary(summary, run_dir)
    path = os.path.join(run_dir, REPORT_FILE)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as outfile:
        outfile.write(render_report(summary, series))
    os.replace(tmp, path)
    return path


def load_summary_file(run_dir: str) -> Optional[Dict[str, Any]]:
    """The run's ``aws_batch_summary.json``, or None when it has none."""
    path = os.path.join(run_dir, "aws_batch_summary.json")
    try:
        with open(path) as infile:
            doc = json.load(infile)
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


_TEMPLATE = r"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>%%TITLE%%</title>
<style>
body{font:13px/1.4 system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0;
 color:#1d232a;background:#f6f7f9}
header{background:#232f3e;color:#fff;padding:12px 20px}
header h1{font-size:18px;margin:0}header .sub{opacity:.8;font-size:12px}
main{padding:12px 20px}
section{background:#fff;border:1px solid #dde1e6;border-radius:6px;margin:0 0 14px;padding:10px 14px}
h2{font-size:14px;margin:0 0 8px}
.cards{display:flex;flex-wrap:wrap;gap:10px}
.card{border:1px solid #dde1e6;border-radius:6px;padding:6px 12px;min-width:120px;background:#fbfcfd}
.card b{display:block;font-size:18px}.card span{color:#5f6b7a;font-size:11px}
#tl-wrap{max-height:520px;overflow:auto;position:relative;border:1px solid #eef0f3}
#tl{display:block}
#tip{position:fixed;pointer-events:none;background:#232f3e;color:#fff;padding:4px 8px;
 border-radius:4px;font-size:12px;display:none;white-space:pre;z-index:9}
.legend span{display:inline-block;margin-right:14px}
.legend i{display:inline-block;width:12px;height:10px;margin-right:4px;vertical-align:middle}
table{border-collapse:collapse;width:100%;font-size:12px}
th,td{padding:3px 6px;border-bottom:1px solid #eef0f3;text-align:right;white-space:nowrap}
th{cursor:pointer;background:#f0f2f5;position:sticky;top:0;user-select:none}
th.sorted-asc::after{content:" \25B2"}th.sorted-desc::after{content:" \25BC"}
td.l,th.l{text-align:left}td.note{text-align:left;white-space:normal;color:#8a4b00;min-width:260px}
tr.FAILED td.st{color:#c0392b;font-weight:600}tr.SUCCEEDED td.st{color:#1e7e34}
tbody tr:hover{background:#f5f8ff;cursor:pointer}
#charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(330px,1fr));gap:10px}
.chart{border:1px solid #eef0f3;border-radius:4px;padding:4px 6px}
.chart .t{font-weight:600;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.chart svg{display:block}
.muted{color:#5f6b7a}
input[type=search]{padding:3px 6px;width:260px}
</style></head>
<body>
<header><h1 id="title">miniwdl-aws run</h1><div class="sub" id="subtitle"></div></header>
<main>
<section><h2>Totals</h2><div class="cards" id="totals"></div><div id="notes" class="muted"></div>
</section>
<section><h2>Timeline</h2>
<div class="legend"><span><i style="background:#c9ced6"></i>queued (submitted, runnable,
starting)</span><span><i style="background:#2e9e5b"></i>ran, succeeded</span><span><i
style="background:#d64541"></i>failed</span><span><i style="background:#f39c12"></i>Spot / host
lost</span><span><i style="background:#8e44ad"></i>out of memory</span><span><i
style="background:#3b7dd8"></i>running now</span><span class="muted">one row per attempt; click a
row for its task</span></div>
<div id="tl-wrap"><canvas id="tl"></canvas></div></section>
<section><h2>Usage against the request</h2><div class="muted" id="charts-note"></div>
<div id="charts"></div></section>
<section><h2>Tasks</h2><div><input type="search" id="filter"
placeholder="filter by task, status or note"> <span class="muted" id="shown"></span></div>
<div style="max-height:640px;overflow:auto;margin-top:6px"><table id="tasks"><thead><tr>
<th class="l" data-k="n">task</th><th class="l" data-k="s">status</th><th data-k="tries">tries</th>
<th data-k="spot">spot</th><th data-k="q">queued</th><th data-k="run">running</th>
<th data-k="vc">vCPU</th><th data-k="pc">peak CPU</th><th data-k="mc">mean CPU</th>
<th data-k="mem">memory</th><th data-k="pm">peak mem</th><th data-k="vh">vCPU-h</th>
<th data-k="uvh">used vCPU-h</th><th data-k="gh">GiB-h</th><th data-k="ugh">used GiB-h</th>
<th data-k="cost">cost est.</th><th class="l" data-k="note">right-sizing</th></tr></thead>
<tbody></tbody></table></div></section>
</main>
<div id="tip"></div>
<script id="data" type="application/json">%%DATA%%</script>
<script>
"use strict";
const D = JSON.parse(document.getElementById("data").textContent);
const T = D.tasks, TOT = D.totals || {};
const $ = (id) => document.getElementById(id);
function esc(s){return String(s==null?"":s).replace(/[&<>"]/g,c=>({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;"}[c]));}
function dur(s){s=Math.round(s||0);if(s<60)return s+"s";if(s<3600)return Math.floor(s/60)+"m"+String(s%60).padStart(2,"0")+"s";
 return Math.floor(s/3600)+"h"+String(Math.floor(s%3600/60)).padStart(2,"0")+"m";}
function mem(m){if(m==null)return "-";return m>=1024?(m/1024).toFixed(1)+" GiB":Math.round(m)+" MiB";}
function num(x,d){return x==null?"-":Number(x).toFixed(d);}
// resource-hours: 3 significant digits, so a short run does not read 0.000
function hrs(x){return x==null?"-":x===0?"0":Math.abs(x)<1e-4?"<0.0001":Math.abs(x)>=100?Number(x).toFixed(1):String(Number(Number(x).toPrecision(3)));}
$("title").textContent = "miniwdl-aws run " + D.run_id;
$("subtitle").textContent = "generated " + D.generated_at + " \u00b7 " + T.length + " tasks";
// --- totals ---
(function(){
 const st = TOT.statuses || {}, ts = TOT.task_statuses || {};
 const cards = [["tasks", TOT.tasks], ["jobs / attempts", (TOT.jobs||0)+" / "+(TOT.attempts||0)],
  ["task statuses", Object.keys(ts).map(k=>k+" "+ts[k]).join(", ") || "-"],
  ["running (sum)", dur(TOT.running_seconds)], ["queued (sum)", dur(TOT.queued_seconds)],
  ["vCPU-h requested", hrs(TOT.vcpu_hours)], ["vCPU-h used", TOT.sampled_jobs?hrs(TOT.used_vcpu_hours):"-"],
  ["GiB-h requested", hrs(TOT.gib_hours)], ["GiB-h used", TOT.sampled_jobs?hrs(TOT.used_gib_hours):"-"],
  ["Spot interruptions", TOT.spot_interruptions||0]];
 if (TOT.cost_estimate != null) cards.push(["cost estimate", num(TOT.cost_estimate,4)]);
 $("totals").innerHTML = cards.map(c=>'<div class="card" data-total="'+esc(c[0])+'"><b>'+esc(c[1])+"</b><span>"+esc(c[0])+"</span></div>").join("");
 const notes = [];
 notes.push("job statuses: " + Object.keys(st).map(k=>k+" "+st[k]).join(", "));
 notes.push((TOT.sampled_jobs||0) + " of " + (TOT.jobs||0) + " jobs sampled");
 if (TOT.rightsizing_notes) notes.push(TOT.rightsizing_notes + " tasks with a right-sizing note");
 if (TOT.cost_estimate != null) notes.push("cost estimate = requested resources \u00d7 running time \u00d7 your [aws] prices; not a bill");
 $("notes").textContent = notes.join(" \u00b7 ");
})();
// --- timeline (one canvas; rows are attempts) ---
const ROWS = [];
T.forEach((t, ti) => t.a.forEach(a => ROWS.push([ti, a])));
ROWS.sort((x, y) => x[1][0] - y[1][0] || x[1][1] - y[1][1]);
const COLORS = {ok:"#2e9e5b", oom:"#8e44ad", running:"#3b7dd8", queued:"#c9ced6"};
function color(a){ if (a[7]) return COLORS.running; if (a[3]==="ok") return COLORS.ok;
 if (a[3]==="oom") return COLORS.oom; if (a[3]==="spot"||a[3]==="interrupted") return "#f39c12";
 return "#d64541"; }
let rowH = 1, left = 220, width = 800, t0 = D.t0, t1 = D.t0 + 1;
function drawTimeline(){
 const cv = $("tl"), wrap = $("tl-wrap");
 width = Math.max(600, wrap.clientWidth - 2);
 rowH = ROWS.length <= 60 ? 16 : ROWS.length <= 400 ? 8 : Math.max(2, Math.floor(4000 / ROWS.length));
 const h = ROWS.length * rowH + 24;
 const dpr = window.devicePixelRatio || 1;
 cv.width = width * dpr; cv.height = h * dpr; cv.style.width = width + "px"; cv.style.height = h + "px";
 const g = cv.getContext("2d"); g.scale(dpr, dpr);
 t0 = D.t0; t1 = t0 + 1; ROWS.forEach(r => { if (r[1][2] > t1) t1 = r[1][2]; });
 left = rowH >= 8 ? Math.min(260, Math.max(120, width * 0.25)) : 0;
 const span = t1 - t0, px = (width - left - 10) / span;
 g.fillStyle = "#fff"; g.fillRect(0, 0, width, h);
 // time axis
 g.fillStyle = "#5f6b7a"; g.font = "11px system-ui,sans-serif"; g.strokeStyle = "#eef0f3";
 const step = niceStep(span / 1000 / 8);
 for (let s = 0; s <= span / 1000; s += step) { const x = left + s * 1000 * px;
  g.beginPath(); g.moveTo(x, 16); g.lineTo(x, h); g.stroke(); g.fillText(dur(s), x + 2, 11); }
 ROWS.forEach((r, i) => { const a = r[1], y = 20 + i * rowH, hh = Math.max(1, rowH - (rowH > 4 ? 3 : 0));
  g.fillStyle = COLORS.queued; g.fillRect(left + (a[0]-t0)*px, y, Math.max(1,(a[1]-a[0])*px), hh);
  if (a[6] > 0) { g.fillStyle = color(a); g.fillRect(left + (a[1]-t0)*px, y, Math.max(1,(a[2]-a[1])*px), hh); }
  if (rowH >= 8) {
   g.fillStyle = "#1d232a"; const t = T[r[0]];
   let label = t.n + (a[8] > 1 || a[6] > 1 ? " #" + a[8] + (a[6] > 1 ? "." + a[6] : "") : "");
   while (label.length > 3 && g.measureText(label).width > left - 8) label = label.slice(0, -2);
   g.fillText(label, 4, y + hh - 2);
   const mark = a[3]==="oom" ? "OOM" : (a[3]==="spot" ? "Spot" : "");
   if (mark) { g.fillStyle = "#fff"; g.font = "bold 10px system-ui,sans-serif";
    g.fillText(mark, left + (a[1]-t0)*px + 3, y + hh - 3); g.font = "11px system-ui,sans-serif"; }
  } });
}
function niceStep(x){ const c=[1,2,5,10,15,30,60,120,300,600,900,1800,3600,7200,14400,28800,86400];
 for (const v of c) if (v >= x) return v; return 86400*Math.ceil(x/86400); }
function rowAt(ev){ const cv = $("tl"), b = cv.getBoundingClientRect();
 const i = Math.floor((ev.clientY - b.top - 20) / rowH); return (i >= 0 && i < ROWS.length) ? ROWS[i] : null; }
$("tl").addEventListener("mousemove", ev => { const r = rowAt(ev), tip = $("tip");
 if (!r) { tip.style.display = "none"; return; } const a = r[1], t = T[r[0]];
 tip.textContent = t.n + "  (miniwdl try " + a[8] + ", Batch attempt " + a[6] + ")\nqueue " + a[5] +
  "\nrequested " + a[10] + " vCPU, " + mem(a[9]) +
  "\nqueued " + dur((a[1]-a[0])/1000) + ", ran " + dur((a[2]-a[1])/1000) +
  "\n" + (a[7] ? "running" : (a[3] || "") + (a[4] ? " (" + a[4] + ")" : ""));
 tip.style.display = "block"; tip.style.left = (ev.clientX + 12) + "px"; tip.style.top = (ev.clientY + 12) + "px"; });
$("tl").addEventListener("mouseleave", () => { $("tip").style.display = "none"; });
$("tl").addEventListener("click", ev => { const r = rowAt(ev); if (r) showCharts([r[0]], true); });
// --- usage charts ---
function chartSvg(t){
 const pts = D.charts[t.c] || [], W = 320, H = 70, tmax = Math.max(1, ...pts.map(p => p[0]));
 function plot(idx, req, colour){ const vmax = Math.max(req || 0, ...pts.map(p => p[idx]), 1e-9) * 1.08;
  const xy = pts.map(p => (p[0]/tmax*(W-4)+2).toFixed(1) + "," + (H - 2 - p[idx]/vmax*(H-14)).toFixed(1)).join(" ");
  const ry = (H - 2 - (req||0)/vmax*(H-14)).toFixed(1);
  return '<svg width="'+W+'" height="'+H+'" role="img"><rect width="'+W+'" height="'+H+'" fill="#fbfcfd"/>' +
   (req ? '<line x1="0" x2="'+W+'" y1="'+ry+'" y2="'+ry+'" stroke="#d64541" stroke-dasharray="4 3"/>' : "") +
   '<polyline fill="none" stroke="'+colour+'" stroke-width="1.6" points="'+xy+'"/></svg>'; }
 return '<div class="chart" data-task="'+esc(t.n)+'"><div class="t" title="'+esc(t.n)+'">'+esc(t.n)+'</div>' +
  '<div class="muted">memory: peak '+mem(t.pm)+' of '+mem(t.mem)+' requested (dashed)</div>' + plot(2, t.mem, "#3b7dd8") +
  '<div class="muted">CPU: peak '+num(t.pc,2)+', mean '+num(t.mc,2)+' of '+t.vc+' vCPU</div>' + plot(1, t.vc, "#2e9e5b") +
  (t.note ? '<div class="note" style="color:#8a4b00">'+esc(t.note)+'</div>' : "") + "</div>"; }
function showCharts(idx, scroll){
 const withData = idx.filter(i => T[i].c >= 0);
 $("charts").innerHTML = withData.map(i => chartSvg(T[i])).join("");
 $("charts-note").textContent = withData.length ? "dashed: the request; CPU in vCPUs over each sampling period" +
  (withData.length < idx.length ? " (" + (idx.length - withData.length) + " shown tasks were not sampled)" : "")
  : "no usage samples for the tasks shown (sampling off, or the shared filesystem was not readable)";
 if (scroll) $("charts").scrollIntoView({block: "nearest"}); }
// --- table ---
let sortKey = "vh", sortDir = -1, filterText = "";
function cell(k, t){ switch (k) {
 case "q": case "run": return dur(t[k]); case "mem": case "pm": return mem(t[k]);
 case "pc": case "mc": return num(t[k], 2); case "vh": case "gh": case "uvh": case "ugh": return hrs(t[k]);
 case "cost": return t.cost == null ? "-" : num(t.cost, 4); default: return t[k]; } }
const COLS = Array.from(document.querySelectorAll("#tasks th")).map(th => th.dataset.k);
function renderTable(){
 let idx = T.map((t, i) => i);
 if (filterText) { const f = filterText.toLowerCase();
  idx = idx.filter(i => (T[i].n + " " + T[i].s + " " + T[i].note + " " + T[i].r).toLowerCase().includes(f)); }
 idx.sort((a, b) => { const x = T[a][sortKey], y = T[b][sortKey];
  if (x == null && y == null) return 0; if (x == null) return 1; if (y == null) return -1;
  return (typeof x === "string" ? x.localeCompare(y) : x - y) * sortDir; });
 const shown = idx.slice(0, D.table_rows);
 $("tasks").tBodies[0].innerHTML = shown.map(i => { const t = T[i];
  return '<tr class="'+esc(t.s)+'" data-i="'+i+'" title="'+esc(t.r)+'">' + COLS.map(k =>
   '<td class="'+(k==="n"?"l":k==="s"?"l st":k==="note"?"note":"")+'">'+esc(cell(k, t))+"</td>").join("") + "</tr>"; }).join("");
 $("shown").textContent = (idx.length > shown.length ? "showing " + shown.length + " of " : "") + idx.length + " tasks";
 document.querySelectorAll("#tasks th").forEach(th => { th.classList.remove("sorted-asc", "sorted-desc");
  if (th.dataset.k === sortKey) th.classList.add(sortDir > 0 ? "sorted-asc" : "sorted-desc"); });
 return idx; }
document.querySelectorAll("#tasks th").forEach(th => th.addEventListener("click", () => {
 const k = th.dataset.k; if (sortKey === k) sortDir = -sortDir; else { sortKey = k; sortDir = (k === "n" || k === "s" || k === "note") ? 1 : -1; }
 renderTable(); }));
$("filter").addEventListener("input", ev => { filterText = ev.target.value; const idx = renderTable(); showCharts(idx.slice(0, 12), false); });
$("tasks").tBodies[0].addEventListener("click", ev => { const tr = ev.target.closest("tr"); if (tr) showCharts([Number(tr.dataset.i)], true); });
const firstIdx = renderTable();
showCharts(firstIdx.slice(0, 12), false);
drawTimeline();
window.addEventListener("resize", drawTimeline);
// milliseconds from navigation to a drawn page (the bench reads it)
document.body.dataset.renderMs = String(Math.round(performance.now()));
document.body.dataset.rendered = "1";
</script>
</body></html>
"""  # noqa: E501 (the page's CSS and JS, kept as written)


def add_parser(sub: Any) -> None:
    """The ``report`` subcommand of ``miniwdl-aws`` (its parser, in the CLI's subparsers)."""
    p = sub.add_parser("report", help="write a run's self-contained HTML report")
    p.add_argument("target", metavar="RUN_DIR|RUN_ID", help="a run directory, or a run id")
    p.add_argument("-o", "--output", help="HTML file (default: RUN_DIR/report.html, or"
                   " ./report-RUN_ID.html)")  # fmt: skip
    p.add_argument("--queue", action="append", help="job queue to search (default: all)")


def cmd_report(args: Any, cfg: Any, out: Any) -> int:
    """``miniwdl-aws report``: from a run directory (its ``aws_batch_summary.json`` and usage
    files), or from Batch by run id (usage too where the shared filesystem is mounted here)."""
    from .. import config
    from ..aws.clients import AwsClients
    from ..errors import MiniwdlAwsError
    from .runs import check_run_id
    from .summary import summarize_run

    target = args.target
    if os.path.isdir(target):
        summary = load_summary_file(target)
        if summary is None:
            raise MiniwdlAwsError(
                f"{target} has no aws_batch_summary.json (not a run of the aws_batch_job"
                " backend, or it has not ended); give the run id instead"
            )
        series = series_for_summary(summary, target)
        dest = args.output or os.path.join(target, REPORT_FILE)
    else:
        run_id = check_run_id(target)
        prices = (
            float(config.read_option(cfg, "price_per_vcpu_hour")),
            float(config.read_option(cfg, "price_per_gib_hour")),
        )
        region = args.region or config.read_option(cfg, "region") or None
        summary = summarize_run(AwsClients(region), run_id, args.queue, None, prices)
        if not summary["tasks"] and not summary["workflow_jobs"]:
            raise MiniwdlAwsError(f"no jobs found for run {run_id}")
        series = series_for_summary(summary)
        dest = args.output or f"report-{run_id}.html"
    page = render_report(summary, series)
    tmp = f"{dest}.tmp{os.getpid()}"
    try:
        with open(tmp, "w") as outfile:
            outfile.write(page)
        os.replace(tmp, dest)
    except OSError as exn:
        raise MiniwdlAwsError(f"cannot write {dest}: {exn.strerror}") from None
    print(dest, file=out)
    return 0
