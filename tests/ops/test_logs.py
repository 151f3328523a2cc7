"""``miniwdl-aws logs`` on the local AWS: a real run started by the submitter (no --wait), its
workflow log followed from before it starts to its end-of-log marker, then read after the fact,
and the logs of one call's task jobs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from typing import Any, Dict, List

import pytest

from miniwdl_aws.logfollow import END_OF_LOG
from miniwdl_aws.ops.logs import NothingFound, select_jobs
from tests.submit.helpers import EXAMPLES, describe, run_id_of, stack_env, stream_messages, submit

MINIWDL_AWS = os.path.join(os.path.dirname(sys.executable), "miniwdl-aws")


def _logs(args: List[str], env: Dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [MINIWDL_AWS, "logs", *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_logs_follow_then_after_the_fact(stack: Any) -> None:
    env = stack_env(stack)
    args = [str(EXAMPLES / "hello_scatter.wdl"), "-i", str(EXAMPLES / "hello_scatter.inputs.json")]
    res = submit(stack, args, env)  # no --wait: the run goes on without the submitter
    assert res.returncode == 0, res.stderr[-2000:]
    run_id = run_id_of(res)

    # followed from (about) its start: exactly the stream, up to the wrapper's marker
    followed = _logs([run_id, "--follow", "--period", "0.2"], env)
    assert followed.returncode == 0, followed.stderr
    stream = stream_messages(describe(res.stdout.strip())["container"]["logStreamName"])
    assert stream[-1] == END_OF_LOG
    assert followed.stdout.splitlines() == stream[:-1]
    assert any("NOTICE done" in ln for ln in stream)

    # after the fact: the same lines
    again = _logs([run_id], env)
    assert again.returncode == 0 and again.stdout == followed.stdout

    # one call of a scatter: each of its jobs under a header, its own lines
    greet = _logs([run_id, "greet"], env)
    assert greet.returncode == 0, greet.stderr
    headers = [ln for ln in greet.stdout.splitlines() if ln.startswith("==> ")]
    assert len(headers) == 3 and all("call-greet-" in h and "SUCCEEDED" in h for h in headers)
    # each task's own log stream (its stderr: "greeted NAME"), in the order of the headers
    greeted = [ln for ln in greet.stdout.splitlines() if ln.startswith("greeted ")]
    assert sorted(greeted) == ["greeted Alyssa", "greeted Ben", "greeted Cy"], greet.stdout
    one = _logs([run_id, "call-summarize"], env)
    assert one.returncode == 0 and not one.stdout.startswith("==> "), one.stdout

    # nothing found: exit 1, one line naming the calls there are
    none = _logs([run_id, "nosuch"], env)
    assert none.returncode == 1 and none.stdout == ""
    assert none.stderr.count("\n") == 1 and "call-summarize" in none.stderr, none.stderr


def _job(job_id: str, role: str, call: str = "") -> Dict[str, Any]:
    tags = {"MiniwdlRole": role, **({"MiniwdlCall": call} if call else {})}
    return {"jobId": job_id, "tags": tags}


def test_select_jobs_by_call_name() -> None:
    jobs = [
        _job("w", "workflow"),
        _job("g0", "task", "call-greet-0"),
        _job("g1", "task", "call-greet-1"),
        _job("gx", "task", "call-greeting"),  # another call sharing the prefix
        _job("s", "task", "call-summarize"),
    ]
    pick = lambda call: [j["jobId"] for j in select_jobs("mw1", jobs, call)]  # noqa: E731
    assert pick(None) == ["w"]
    assert pick("greet") == pick("call-greet") == ["g0", "g1"]
    assert pick("call-greet-1") == ["g1"]
    assert pick("summarize") == ["s"]
    with pytest.raises(NothingFound, match="no job of call 'nosuch'; its calls: call-greet-0"):
        select_jobs("mw1", jobs, "nosuch")
    # a run of a plain `miniwdl run` has no workflow job: name a call
    with pytest.raises(NothingFound, match="has no workflow job .* name a call: call-greet-0"):
        select_jobs("mw1", jobs[1:], None)
    with pytest.raises(NothingFound, match="no jobs found for run mw1"):
        select_jobs("mw1", [], None)


def test_logs_and_runs_of_a_scatter_run_as_array_jobs(stack: Any) -> None:
    """With [aws] array_jobs, two of the three greet tasks run as children of one array job:
    `logs RUN greet` still shows each task's own job and log, `runs RUN` one row per task."""
    env = dict(
        stack_env(stack), MINIWDL__AWS__ARRAY_JOBS="true", MINIWDL__AWS__ARRAY_JOB_MIN_SIZE="2"
    )
    args = [
        "--wait",
        str(EXAMPLES / "hello_scatter.wdl"),
        "-i",
        str(EXAMPLES / "hello_scatter.inputs.json"),
    ]
    res = submit(stack, args, env)
    assert res.returncode == 0, res.stderr[-2000:]
    run_id = run_id_of(res)
    greet = _logs([run_id, "greet"], env)
    assert greet.returncode == 0, greet.stderr
    headers = [ln for ln in greet.stdout.splitlines() if ln.startswith("==> ")]
    calls = sorted(h.split()[1] for h in headers)
    assert [c.rsplit("-", 1)[0] for c in calls] == [f"call-greet-{i}" for i in range(3)], headers
    assert sum(":" in h.split()[5] for h in headers) == 2, headers  # job ids <parent>:<index>
    greeted = [ln for ln in greet.stdout.splitlines() if ln.startswith("greeted ")]
    assert sorted(greeted) == ["greeted Alyssa", "greeted Ben", "greeted Cy"], greet.stdout
    runs = subprocess.run(
        [MINIWDL_AWS, "runs", run_id], env=env, capture_output=True, text=True, timeout=120
    )
    assert runs.returncode == 0, runs.stderr
    for call in calls:  # one row per task in the job table and one in the summary table
        assert sum(call in ln.split() for ln in runs.stdout.splitlines()) == 2, runs.stdout
    assert not any("array-of-" in ln for ln in runs.stdout.splitlines()), runs.stdout


FLAKY_WDL = """version 1.0
task flaky {
  input { String marker }
  command <<<
    if [ -e "~{marker}" ]; then
      echo "second attempt ok" >&2
    else
      touch "~{marker}"
      echo "first attempt failing soon" >&2
      sleep 4
      exit 1
    fi
  >>>
  runtime { maxRetries: 1 }
}
"""


def test_follow_goes_on_into_the_retry_of_a_failed_attempt(stack: Any, tmp_path: Any) -> None:
    """``logs RUN CALL --follow`` started on a task's first attempt does not stop when that
    attempt fails: it follows the retry the runner submits, as ``tail -F`` would."""
    env = stack_env(stack)
    wdl = tmp_path / "flaky.wdl"
    wdl.write_text(FLAKY_WDL)
    marker = os.path.join(stack.efs_dir, f"flaky-marker-{os.getpid()}-{id(tmp_path)}")
    res = submit(stack, [str(wdl), f"marker={marker}"], env)  # no --wait
    assert res.returncode == 0, res.stderr[-2000:]
    run_id = run_id_of(res)
    deadline = time.monotonic() + 90
    while True:  # from the first attempt's job on, while it still runs
        followed = _logs([run_id, "flaky", "--follow", "--period", "0.2"], env)
        if followed.returncode != 1 or "has no job of call" not in followed.stderr:
            break
        assert time.monotonic() < deadline, followed.stderr
        time.sleep(0.3)
    assert followed.returncode == 0, followed.stderr
    out = followed.stdout
    assert "first attempt failing soon" in out and "second attempt ok" in out, out
    assert out.index("first attempt failing soon") < out.index("second attempt ok")
    assert re.search(r"==> following \S+, the next attempt: (call-)?flaky attempt 2 <==", out)
