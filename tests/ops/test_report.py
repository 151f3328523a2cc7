"""``report.html`` (issue 16, items 3 and 4): the page's data on synthetic summaries, the
``miniwdl-aws report`` command, and a real run on the local AWS rendered in headless Chromium,
whose DOM must show the run's tasks and totals and whose screenshot must not be blank."""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

from miniwdl_aws.ops import cli
from miniwdl_aws.ops.report import MAX_POINTS, REPORT_FILE, render_report, report_data
from miniwdl_aws.ops.summary import SUMMARY_FILE, build_summary
from miniwdl_aws.usage import UsageSeries
from tests.ops.test_summary import RUN, SPOT, T0, _attempt, _job
from tests.support.miniwdl import run_on_stack

WDL_DIR = os.path.join(os.path.dirname(__file__), "wdl")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _page_data(page: str) -> Dict[str, Any]:
    m = re.search(r'<script id="data" type="application/json">(.*?)</script>', page, re.S)
    assert m, "no data element"
    return dict(json.loads(m.group(1)))


def test_report_data_marks_spot_oom_and_retries() -> None:
    spot = _job(
        "j1", "call-a", "FAILED", T0, T0 + 10_000, T0 + 20_000,
        [_attempt(T0 + 10_000, T0 + 20_000, SPOT, exit_code=None)], statusReason=SPOT,
    )  # fmt: skip
    oom = "OutOfMemoryError: Container killed due to memory usage"
    retried = _job(
        "j2", "call-a", "SUCCEEDED", T0 + 21_000, T0 + 25_000, T0 + 45_000,
        [_attempt(T0 + 25_000, T0 + 30_000, "Essential container in task exited", None) | {
            "container": {"reason": oom, "exitCode": 137}},
         _attempt(T0 + 31_000, T0 + 45_000)], miniwdl_attempt=2, memory="8192",
    )  # fmt: skip
    points = [(float(i), i * 0.5, 1048576 * (100 + i)) for i in range(500)]
    series = {"j2": [UsageSeries("j2", 2, "proc", 1.0, None, points)]}
    summary = build_summary(RUN, [spot, retried], now=(T0 + 50_000) / 1000, usage_series=series)
    data = report_data(summary, series)
    (task,) = data["tasks"]
    categories = [row[3] for row in task["a"]]
    assert categories == ["spot", "oom", "ok"]
    assert [row[8] for row in task["a"]] == [1, 2, 2]  # miniwdl's try of each attempt
    # what each attempt asked for: miniwdl's second try asked for more memory
    assert [(row[9], row[10]) for row in task["a"]] == [(4096, 2), (8192, 2), (8192, 2)]
    assert data["t0"] == T0
    # the chart is cut to MAX_POINTS, keeping the peak memory
    (chart,) = data["charts"]
    assert len(chart) == MAX_POINTS and max(p[2] for p in chart) == pytest.approx(599.0)
    # nothing in the data can end the script element
    summary["tasks"][0]["status_reason"] = "</script><script>alert(1)</script>"
    page = render_report(summary, series)
    assert "</script><script>alert" not in page
    assert _page_data(page)["tasks"][0]["r"].startswith("</script>")


def test_report_command_errors_are_one_line(tmp_path: Path, capsys: Any) -> None:
    assert cli.main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "aws_batch_summary.json" in err
    assert cli.main(["report", "not a run id!"]) == 2


# --- a real run, in a real browser ---


def _png_pixels(path: Path) -> Tuple[int, int, List[bytes]]:
    """(width, height, rows of RGB(A) bytes) of an 8-bit PNG: enough of the format to check a
    screenshot (zlib and the five scanline filters), with no image library."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and colour in (2, 6), (depth, colour)
            bpp = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows: List[bytes] = []
    prev = bytearray(stride)
    for y in range(height):
        ftype, line = (
            raw[y * (stride + 1)],
            bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]),
        )
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if ftype == 1:
                line[i] = (line[i] + a) & 255
            elif ftype == 2:
                line[i] = (line[i] + b) & 255
            elif ftype == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, [bytes(r) for r in rows]


def _chromium(args: List[str], cwd: Path) -> subprocess.CompletedProcess:
    assert CHROMIUM
    base = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--no-first-run", "--disable-extensions", "--hide-scrollbars",
        f"--user-data-dir={cwd / 'profile'}", "--virtual-time-budget=10000",
    ]  # fmt: skip
    return subprocess.run(base + args, capture_output=True, text=True, timeout=120, cwd=cwd)


@pytest.mark.skipif(not CHROMIUM, reason="chromium not installed (.ci/run installs it)")
def test_report_of_a_real_run_renders_in_chromium(
    emulator: Any, stack: Any, tmp_path: Path
) -> None:
    env = {"MINIWDL__AWS__USAGE_SAMPLING_PERIOD": "0.2"}
    res = run_on_stack(
        emulator, stack, os.path.join(WDL_DIR, "fan.wdl"), ["n=3", "sleep_s=1"], "fan_report", env
    )
    assert res.returncode == 0, res.stderr[-3000:]
    page = Path(res.run_dir) / REPORT_FILE
    assert page.is_file(), "the run wrote no report.html"  # the backend's end-of-run plugin
    with open(Path(res.run_dir) / SUMMARY_FILE) as f:
        summary = json.load(f)
    tasks = sorted(t["task"] for t in summary["tasks"])
    assert len(tasks) == 3
    # miniwdl-aws report RUN_DIR writes the same page again, elsewhere
    again = tmp_path / "again.html"
    assert cli.main(["report", res.run_dir, "-o", str(again)]) == 0
    assert _page_data(again.read_text())["tasks"] == _page_data(page.read_text())["tasks"]
    assert "http://" not in page.read_text() and "https://" not in page.read_text()  # no network
    # ...and from Batch by run id (usage read from the task directories, mounted here)
    by_id = tmp_path / "by_id.html"
    assert cli.main(["report", summary["run_id"], "-o", str(by_id)]) == 0
    from_batch = _page_data(by_id.read_text())
    assert sorted(t["n"] for t in from_batch["tasks"]) == tasks
    assert all(t["c"] >= 0 for t in from_batch["tasks"])  # each with its usage chart

    dom = _chromium(["--dump-dom", page.as_uri()], tmp_path)
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    assert 'data-rendered="1"' in html, "the page's script did not finish"
    rows = re.findall(r'<tr class="(\w+)" data-i="\d+"[^>]*><td class="l">([^<]+)</td>', html)
    assert sorted(name for _, name in rows) == tasks
    assert {status for status, _ in rows} == {"SUCCEEDED"}
    m = re.search(r'<div class="card" data-total="tasks"><b>(\d+)</b>', html)
    assert m and m.group(1) == "3"
    m = re.search(r'data-total="vCPU-h requested"><b>([0-9.]+)</b>', html)
    assert m and float(m.group(1)) == pytest.approx(summary["totals"]["vcpu_hours"], rel=0.01)
    for name in tasks:  # every task was sampled: a chart each
        assert html.count(f'<div class="chart" data-task="{name}">') == 1, name

    shot = tmp_path / "report.png"
    r = _chromium([f"--screenshot={shot}", "--window-size=1280,900", page.as_uri()], tmp_path)
    assert r.returncode == 0 and shot.is_file(), r.stderr[-2000:]
    width, height, pixels = _png_pixels(shot)
    assert (width, height) == (1280, 900)
    # not blank: many colours, and a good share of pixels differ from the background
    colours: Dict[bytes, int] = {}
    bpp = len(pixels[0]) // width
    for row in pixels[::3]:
        for x in range(0, len(row), bpp * 3):
            key = row[x : x + 3]
            colours[key] = colours.get(key, 0) + 1
    total = sum(colours.values())
    background = max(colours.values())
    assert len(colours) > 30, len(colours)
    assert 1 - background / total > 0.1, background / total
    keep = os.environ.get("MINIWDL_AWS_REPORT_SCREENSHOT")
    if keep:  # the README's screenshot is made this way (docs/report.png)
        shutil.copy(shot, keep)


def test_submitted_run_uploads_its_report(aws: Any, emulator: Any) -> None:
    """``miniwdl_submit_awsbatch --s3upload``: the workflow job's run writes report.html into
    its run directory and the wrapper uploads it (with the summary) into the run's S3 folder."""
    import boto3

    from tests.submit.helpers import EXAMPLES, run_id_of, stack_env, submit

    folder = f"s3://{aws.bucket}/rep/"
    args = [str(EXAMPLES / "hello_scatter.wdl"), "-i", str(EXAMPLES / "hello_scatter.inputs.json")]
    res = submit(aws, args + ["--wait", "--s3upload", folder], stack_env(aws))
    assert res.returncode == 0, res.stderr[-3000:]
    rid = run_id_of(res)
    s3 = boto3.client("s3")
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=aws.bucket, Prefix="rep/")["Contents"]}
    assert {f"rep/{rid}/report.html", f"rep/{rid}/aws_batch_summary.json"} <= keys
    page = s3.get_object(Bucket=aws.bucket, Key=f"rep/{rid}/report.html")["Body"].read().decode()
    data = _page_data(page)
    assert data["run_id"] == rid and len(data["tasks"]) == 4  # three greetings and a summary
    assert all(t["s"] == "SUCCEEDED" for t in data["tasks"])
