"""End to end on the local AWS: laptop (submitter process) → workflow job on the Fargate queue
(the wrapper running the real `miniwdl run`) → task jobs on the task queue → S3."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict

from miniwdl_aws.submit import END_OF_LOG
from miniwdl_aws.submit.wait import EXIT_FAILED_NO_CODE
from miniwdl_aws.submit.wrapper import EXIT_UPLOAD_FAILED
from tests.support.submitter import WORKFLOW_IMAGE

from .helpers import (
    EXAMPLES,
    ROOT,
    client,
    describe,
    followed_lines,
    run_id_of,
    stack_env,
    stream_messages,
    submit,
)

HELLO = str(EXAMPLES / "hello_scatter.wdl")
HELLO_INPUTS = str(EXAMPLES / "hello_scatter.inputs.json")
SECRETS = {
    "AWS_SECRET_ACCESS_KEY": "fakeSecretKeyValue0123456789",
    "AWS_SESSION_TOKEN": "fakeSessionTokenValue0123456789",
    "MINIWDL__DOWNLOAD__API_TOKEN": "fakeApiTokenValue0123456789",
}


def _keys(bucket: str, prefix: str) -> list:
    resp = client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"] for o in resp.get("Contents", []))


def _get(bucket: str, key: str) -> bytes:
    return client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()


def test_follow_upload_delete_env_and_secrets(aws: Any, emulator: Any) -> None:
    """The main path, with late and bursty log delivery: --follow prints the workflow job's
    log line for line; outputs land in S3 with a rewritten outputs.json; --delete-after success
    removes the run directory; MINIWDL__ settings pass through, secrets never do."""
    emulator.set_faults({"log_lag": 0.3, "log_disorder": True})
    env = stack_env(aws, MINIWDL__SCHEDULER__CALL_CONCURRENCY="3", **SECRETS)
    folder = f"s3://{aws.bucket}/e2e/"
    args = [HELLO, "-i", HELLO_INPUTS, "--follow", "--s3upload", folder]
    res = submit(aws, args + ["--delete-after", "success", "--tag", "team=genomics"], env)
    assert res.returncode == 0, res.stderr[-3000:]
    job_id = res.stdout.strip()

    # --follow output == the workflow job's CloudWatch stream, line for line, marker last
    desc = describe(job_id)
    stream = stream_messages(desc["container"]["logStreamName"])
    assert stream[-1] == END_OF_LOG
    assert followed_lines(res.stderr) == stream[:-1]
    assert any("NOTICE done" in ln for ln in stream)
    # ...and every line of miniwdl's own workflow.log (uploaded) is in it (miniwdl's threads
    # may write its file handler and stderr in slightly different orders)
    rid = run_id_of(res)
    wf_log = [ln for ln in _get(aws.bucket, f"e2e/{rid}/workflow.log").decode().splitlines() if ln]
    followed = set(followed_lines(res.stderr))
    missing = [ln for ln in wf_log if ln not in followed]
    assert len(wf_log) > 10 and not missing, missing[:3]

    # outputs and outputs.json in S3
    keys = _keys(aws.bucket, "e2e/")
    assert f"e2e/{rid}/workflow.log" in keys and f"e2e/{rid}/summary/summary.txt" in keys
    assert all(k.startswith(f"e2e/{rid}/") for k in keys)  # the run's own folder
    assert f"this run's S3 folder: {folder}{rid}/" in res.stderr
    assert "_hello_scatter (deleted after the upload, --delete-after)" in res.stderr
    outputs = json.loads(_get(aws.bucket, f"e2e/{rid}/outputs.json"))
    assert outputs["hello_scatter.lines"] == 3
    names = json.load(open(HELLO_INPUTS))["hello_scatter.names"]
    for name, uri in zip(names, outputs["hello_scatter.greetings"]):
        assert uri.startswith(f"{folder}{rid}/")
        assert _get(aws.bucket, uri[len(f"s3://{aws.bucket}/") :]) == f"Hello, {name}!\n".encode()
    # --delete-after success: the run directory is gone, the mount itself is not
    run_root = Path(aws.efs_dir) / "miniwdl_run"
    # what stays is the call cache the image's miniwdl-aws.cfg keeps for every run (so the
    # workflow job did run with the shipped cfg: miniwdl's own default is no call cache)
    left = [p.name for p in run_root.iterdir() if not p.is_symlink()]
    assert run_root.is_dir() and left == ["_CACHE"], left

    # env passthrough present, credentials absent (job, job definition, tags)
    job_env = {e["name"]: e["value"] for e in desc["container"]["environment"]}
    assert job_env["MINIWDL__SCHEDULER__CALL_CONCURRENCY"] == "3"
    assert desc["tags"]["team"] == "genomics"
    jobdef = client("batch").describe_job_definitions(jobDefinitions=[desc["jobDefinition"]])
    blob = json.dumps([desc, jobdef["jobDefinitions"]])
    for value in SECRETS.values():
        assert value not in blob
    assert "MINIWDL__DOWNLOAD__API_TOKEN" not in blob
    # task jobs carry the run id prefix and the user tag
    run_id = desc["tags"]["MiniwdlRunId"]
    task_jobs = client("batch").list_jobs(
        jobQueue=aws.task_queue, filters=[{"name": "JOB_NAME", "values": [run_id + "*"]}]
    )["jobSummaryList"]
    assert len(task_jobs) == len(names) + 1
    assert describe(task_jobs[0]["jobId"])["tags"].get("team") == "genomics"


def test_failing_task_exit_code_and_error_upload(aws: Any, wdl_dir: Path) -> None:
    """Also: with no task queue/fsap settings, they come from the workflow queue's tags."""
    env = stack_env(aws)
    for key in ("MINIWDL__AWS__TASK_QUEUE", "MINIWDL__AWS__FSAP"):
        del env[key]
    folder = f"s3://{aws.bucket}/fail/"
    res = submit(aws, [str(wdl_dir / "fail.wdl"), "--wait", "--s3upload", folder], env)
    assert res.returncode == 3, res.stderr[-3000:]  # the task's exit status, via miniwdl
    job_env = {
        e["name"]: e["value"] for e in describe(res.stdout.strip())["container"]["environment"]
    }
    assert job_env["MINIWDL__AWS__TASK_QUEUE"] == aws.task_queue
    assert job_env["MINIWDL__AWS__TASK_QUEUE_FALLBACK"] == aws.task_queue_fallback
    assert job_env["MINIWDL__AWS__FSAP"] == aws.fsap
    rid = run_id_of(res)
    keys = _keys(aws.bucket, f"fail/{rid}/")
    assert f"fail/{rid}/error.json" in keys and f"fail/{rid}/CommandFailed_stderr.txt" in keys
    assert b"about to fail" in _get(aws.bucket, f"fail/{rid}/CommandFailed_stderr.txt")
    err = json.loads(_get(aws.bucket, f"fail/{rid}/error.json"))
    assert err["cause"]["stderr_s3file"] == f"{folder}{rid}/CommandFailed_stderr.txt"
    # --wait says why in a short paragraph (read from error.json in the run directory, which
    # this machine sees), then where the log and the run directory are; every line fits
    ours = [ln for ln in res.stderr.splitlines() if ln.startswith("[miniwdl-aws-submit] ")]
    said = " ".join(ln.split("] ", 1)[1] for ln in ours)
    assert "the run failed: call-boom failed: CommandFailed, exit status 3" in said, said
    assert "last stderr line: 'about to fail' (from error.json, EFS)" in said, said
    assert f"workflow log: `miniwdl-aws logs {rid}`" in said
    assert f"run directory: {aws.efs_dir}/miniwdl_run/{rid}/2" in said  # <timestamp>_failing
    assert "_failing (error.json, workflow.log, call-*/)" in said
    # progress while waiting (not a terminal: plain lines), ending with the final counts
    assert "task jobs: 0 queued, 0 running, 0 done, 1 failed" in said, said
    paragraph = [ln for ln in ours if "the run failed" in ln or "stderr line" in ln]
    assert 1 <= len(paragraph) <= 3 and all(len(ln) <= 100 for ln in paragraph), paragraph


def test_error_before_the_run_starts_is_mirrored_and_uploaded(aws: Any, tmp_path: Path) -> None:
    """The WDL and its inputs are valid, but the input file it names on the shared filesystem
    does not exist (the submitter cannot see the mount, so only the job finds out): miniwdl fails
    inside the job before running anything; its exit code comes back and error.json is
    uploaded."""
    wdl = tmp_path / "count.wdl"
    wdl.write_text(
        "version 1.0\nworkflow count { input { File data }\n"
        "  output { Int n = length(read_lines(data)) } }\n"
    )
    folder = f"s3://{aws.bucket}/noinputs/"
    missing = f"{aws.efs_dir}/no/such/input.txt"
    res = submit(aws, [str(wdl), f"data={missing}", "--follow", "--s3upload", folder])
    assert res.returncode == 2, res.stderr[-3000:]
    assert "File not found" in res.stderr and missing in res.stderr
    assert f"noinputs/{run_id_of(res)}/error.json" in _keys(aws.bucket, "noinputs/")


def test_upload_failure_keeps_the_run_directory(aws: Any, emulator: Any) -> None:
    emulator.set_faults({"s3_fail": {"key": r"outputs\.json$"}})
    folder = f"s3://{aws.bucket}/broken/"
    res = submit(aws, [HELLO, "-i", HELLO_INPUTS, "--follow", "--s3upload", folder,
                       "--delete-after", "success"])  # fmt: skip
    assert res.returncode == EXIT_UPLOAD_FAILED, res.stderr[-3000:]
    assert "UPLOAD FAILED" in res.stderr and "nothing was deleted" in res.stderr
    home = Path(aws.efs_dir) / "miniwdl_run" / run_id_of(res)
    runs = [p for p in home.iterdir() if p.is_dir() and not p.is_symlink()]
    assert len(runs) == 1 and (runs[0] / "out").is_dir() and (runs[0] / "workflow.log").is_file()
    assert not [k for k in _keys(aws.bucket, "broken/") if k.endswith("/outputs.json")]


def test_large_wdl_is_staged_in_s3(aws: Any, tmp_path: Path) -> None:
    # incompressible filler: far beyond the 8,192-character overrides limit once encoded
    filler = "\n".join("# " + os.urandom(48).hex() for _ in range(200))
    big = tmp_path / "big.wdl"
    big.write_text(f"version 1.0\n{filler}\nworkflow big {{\n  output {{ Int n = 7 }}\n}}\n")
    folder = f"s3://{aws.bucket}/big/"
    res = submit(aws, [str(big), "--wait", "--s3upload", folder])
    assert res.returncode == 0, res.stderr[-3000:]
    assert "staged s3://" in res.stderr
    staged = _keys(aws.bucket, "big/_miniwdl_aws_submit/")
    assert [k.rsplit("/", 1)[-1] for k in staged] == ["source.zip"]
    assert json.loads(_get(aws.bucket, f"big/{run_id_of(res)}/outputs.json")) == {"big.n": 7}


def test_self_test(aws: Any) -> None:
    res = submit(aws, ["--self-test"])
    assert res.returncode == 0, res.stderr[-3000:]
    assert '"self_test.count": 3' in res.stderr


def _signal_masks(pid: int) -> Dict[str, str]:
    """SigBlk/SigIgn/SigCgt of a process, and of this one (what a child inherits)."""
    out = {}
    for who in (str(pid), "self"):
        with open(f"/proc/{who}/status") as f:
            for line in f:
                key = line.split(":")[0]
                if key in ("SigBlk", "SigIgn", "SigCgt"):
                    out[f"{who}.{key}"] = line.split(":")[1].strip()
    return out


def test_ctrl_c_leaves_the_workflow_running(aws: Any, emulator: Any, wdl_dir: Path) -> None:
    # ECS waits 30 s between SIGTERM and SIGKILL; leave miniwdl time to stop its task job
    emulator.configure(kill_grace=10.0)
    cmd = [sys.executable, "-m", "miniwdl_aws", str(wdl_dir / "sleep.wdl"), "--follow"]
    cmd += ["--image", WORKFLOW_IMAGE]
    proc = subprocess.Popen(
        cmd + ["--poll-seconds", "0.2"],
        env=stack_env(aws),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=str(ROOT),
    )
    assert proc.stdout is not None and proc.stderr is not None
    job_id = proc.stdout.readline().strip()
    for line in proc.stderr:  # wait until miniwdl inside the job has submitted its task
        if "AWS Batch job submitted" in line:
            break
    masks = _signal_masks(proc.pid)  # a SIGINT blocked or ignored from the start never arrives
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError(f"the submitter ignored SIGINT; its signal masks: {masks}") from None
    assert proc.returncode == 130
    assert f"aws batch terminate-job --job-id {job_id} --reason" in err
    assert describe(job_id)["status"] == "RUNNING"
    # clean up the way the message says; miniwdl then terminates its task job too
    client("batch").terminate_job(jobId=job_id, reason="test cleanup")
    deadline = time.monotonic() + 30
    while describe(job_id)["status"] != "FAILED" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert describe(job_id)["status"] == "FAILED"
    # the wrapper forwarded SIGTERM to miniwdl, which terminated its task job
    run_id = describe(job_id)["tags"]["MiniwdlRunId"]
    tasks = client("batch").list_jobs(
        jobQueue=aws.task_queue, filters=[{"name": "JOB_NAME", "values": [run_id + "*"]}]
    )["jobSummaryList"]
    assert len(tasks) == 1 and tasks[0]["status"] == "FAILED"


def test_demo_script(tmp_path: Path) -> None:
    """examples/demo.py as the README runs it: its own emulator process, end to end."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINIWDL")}
    env.pop("AWS_ENDPOINT_URL", None)
    res = subprocess.run(
        [sys.executable, str(EXAMPLES / "demo.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        cwd=str(tmp_path),
    )
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    assert "outputs.json" in res.stdout and "s3://" in res.stdout
    assert "Hello, " in res.stdout  # the demo prints an output file's content from S3


def test_failed_without_exit_code_prints_the_reason(aws: Any, emulator: Any) -> None:
    emulator.set_faults({"cannot_pull": {"job_name": "hello_scatter"}})
    res = submit(aws, [HELLO, "-i", HELLO_INPUTS, "--follow"])
    assert res.returncode == EXIT_FAILED_NO_CODE, res.stderr[-3000:]
    assert "FAILED with no exit code: CannotPullContainerError" in res.stderr
    # Batch's reason (hundreds of characters) in lines that fit a terminal
    lines = res.stderr.splitlines()
    start = next(i for i, ln in enumerate(lines) if "FAILED with no exit code" in ln)
    end = next(i for i, ln in enumerate(lines) if ln == "[miniwdl-aws-submit] exit code 1")
    assert end > start and all(len(ln) <= 100 for ln in lines[start:end]), lines[start:end]


def test_follow_shows_task_counts_while_the_log_is_quiet(aws: Any, tmp_path: Path) -> None:
    """--follow with a task that runs 3 s in silence: the counts of the run's task jobs appear
    between the log's lines (the log is quiet for longer than the progress period), as plain
    lines (not a terminal), up to the final counts."""
    wdl = tmp_path / "quiet.wdl"
    wdl.write_text(
        "version 1.0\nworkflow quiet { call nap }\n"
        "task nap { command <<< sleep 3 >>> runtime { docker: 'ubuntu:22.04' } }\n"
    )
    res = submit(aws, [str(wdl), "--follow", "--progress-seconds", "0.5"])
    assert res.returncode == 0, res.stderr[-3000:]
    lines = res.stderr.splitlines()
    running = "[miniwdl-aws-submit] task jobs: 0 queued, 1 running, 0 done, 0 failed"
    final = "[miniwdl-aws-submit] task jobs: 0 queued, 0 running, 1 done, 0 failed"
    assert running in lines and final in lines, res.stderr[-3000:]
    done = next(i for i, ln in enumerate(lines) if "wdl.w:quiet NOTICE done" in ln)
    # shown while the log was quiet, before its last lines (the final counts may come before
    # the workflow's own "done" line: CloudWatch delivers that line later)
    assert lines.index(running) < done and lines.index(running) < lines.index(final), res.stderr


def test_failed_wait_reads_the_error_from_s3_when_the_run_directory_is_gone(
    aws: Any, wdl_dir: Path
) -> None:
    """--delete-after failure removes the run directory after the upload: the paragraph comes
    from the run's S3 folder instead."""
    folder = f"s3://{aws.bucket}/gone/"
    args = [str(wdl_dir / "fail.wdl"), "--wait", "--s3upload", folder, "--delete-after", "failure"]
    res = submit(aws, args)
    assert res.returncode == 3, res.stderr[-3000:]
    said = " ".join(
        ln.split("] ", 1)[1]
        for ln in res.stderr.splitlines()
        if ln.startswith("[miniwdl-aws-submit] ")
    )
    assert "the run failed: call-boom failed: CommandFailed, exit status 3" in said, said
    assert "(from error.json, S3)" in said, said
    assert "(deleted after the upload, --delete-after)" in said, said
