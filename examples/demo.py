#!/usr/bin/env python3
"""Demo: run a real WDL workflow laptop → Fargate workflow job → task jobs → S3, on the local AWS.

1. starts the bundled local AWS (``python -m miniwdl_aws.emulator serve --bootstrap``) in a
   temporary directory, as a subprocess;
2. runs ``miniwdl_submit_awsbatch examples/hello_scatter.wdl -i ... --follow --s3upload
   s3://<bucket>/demo/``, which streams the workflow job's log live;
3. lists the objects uploaded to S3, prints ``outputs.json`` and one output file;
4. shuts the local AWS down and exits with the submitter's exit code (miniwdl's).

Usage: ``.venv/bin/python examples/demo.py`` (needs ``pip install -e '.[local]'``).
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from typing import Dict, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
WDL = os.path.join(HERE, "hello_scatter.wdl")
INPUTS = os.path.join(HERE, "hello_scatter.inputs.json")
# Short waits so the demo takes seconds (the defaults suit real AWS).
FAST = {
    "MINIWDL__AWS__DESCRIBE_PERIOD": "0.2",
    "MINIWDL__AWS__SUBMIT_PERIOD": "0.01",
    "MINIWDL__AWS__RETRY_WAIT": "0",
}


def start_local_aws(workdir: str) -> Tuple[subprocess.Popen, Dict[str, str]]:
    """Start the emulator; return it and the settings it exported."""
    efs = os.path.join(workdir, "efs")
    os.makedirs(efs)
    cmd = [sys.executable, "-m", "miniwdl_aws.emulator", "serve", "--bootstrap"]
    cmd += ["--efs-dir", efs, "--dwell", "0.2"]
    # the workflow job's image: this repository's Dockerfile (its ENV and miniwdl-aws.cfg)
    dockerfile = os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "Dockerfile"
    )
    cmd += ["--image", f"miniwdl-aws-workflow:local={dockerfile}"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=workdir)
    assert proc.stdout is not None
    exports: Dict[str, str] = {}
    for line in proc.stdout:  # the export lines come once the stack is ready
        if line.startswith("export "):
            key, _, value = line[len("export ") :].strip().partition("=")
            exports[key] = shlex.split(value)[0] if value else ""
        if "LOCAL_AWS_DEMO_BUCKET" in exports:
            break
    if "AWS_ENDPOINT_URL" not in exports:
        proc.terminate()
        raise SystemExit("demo: the local AWS did not start")
    return proc, exports


def show_outputs(bucket: str, prefix: str) -> None:
    """Print where the outputs are: every S3 key, outputs.json, and one output's content."""
    import boto3

    s3 = boto3.client("s3")
    keys = sorted(
        o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    )
    print(f"\n== objects under s3://{bucket}/{prefix}")
    for key in keys:
        print(f"   s3://{bucket}/{key}")
    # each run uploads into its own <prefix><run id>/ folder
    found = [k for k in keys if k.endswith("/outputs.json")]
    if not found:
        return
    outputs = json.loads(s3.get_object(Bucket=bucket, Key=found[0])["Body"].read())
    print(f"\n== s3://{bucket}/{found[0]}")
    print(json.dumps(outputs, indent=2))
    summary = outputs.get("hello_scatter.summary", "")
    if summary.startswith(f"s3://{bucket}/"):
        body = s3.get_object(Bucket=bucket, Key=summary[len(f"s3://{bucket}/") :])["Body"].read()
        print(f"\n== {summary}")
        print(body.decode().rstrip())


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="miniwdl_aws_demo_") as workdir:
        print(f"== starting the local AWS (Batch, EFS, CloudWatch Logs, S3) in {workdir}")
        emulator, exports = start_local_aws(workdir)
        try:
            env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
            env.update(exports)
            env.update(FAST)
            os.environ.update(exports)  # for show_outputs' boto3 client
            bucket = exports["LOCAL_AWS_DEMO_BUCKET"]
            cmd = [sys.executable, "-m", "miniwdl_aws", WDL, "-i", INPUTS]
            cmd += ["--follow", "--s3upload", f"s3://{bucket}/demo/", "--poll-seconds", "0.5"]
            # the local AWS runs the workflow job's command on this machine; on AWS this names
            # the image built from the Dockerfile (see README, "Workflow image")
            cmd += ["--image", "miniwdl-aws-workflow:local"]
            shown = ["miniwdl_submit_awsbatch", *cmd[3:]]
            print("== " + " ".join(shlex.quote(c) for c in shown), flush=True)
            t0 = time.monotonic()
            code = subprocess.call(cmd, env=env, cwd=workdir)
            print(f"\n== submitter exit code {code} after {time.monotonic() - t0:.1f}s")
            if code == 0:
                show_outputs(bucket, "demo/")
            return code
        finally:
            emulator.send_signal(signal.SIGTERM)
            try:
                emulator.wait(timeout=30)
            except subprocess.TimeoutExpired:
                emulator.kill()
                emulator.wait()
            print("== local AWS stopped")


if __name__ == "__main__":
    sys.exit(main())
