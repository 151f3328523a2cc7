"""The bad-input table: config, command-line and WDL mistakes users make, and what must happen.

Every case must end with a non-zero exit, no traceback, one line naming the problem (one of the
case's ``needles`` on a line that reads as an error), and no job submitted. Cases run
``miniwdl run`` with the ``aws_batch_job`` backend (config via ``MINIWDL__AWS__*``), the
submitter ``miniwdl_submit_awsbatch``, or the run tools ``miniwdl-aws``.
"""

from __future__ import annotations

import dataclasses
import os
import random
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Optional, Sequence, Tuple, Union

from .harness import BIN, PYTHON, LocalAws, run
from .workflows import runner_env, write

HELLO_WDL = """\
version 1.0
workflow hello {
  input { String who = "world" }
  call greet { input: who = who }
  output { String greeting = greet.out }
}
task greet {
  input { String who }
  command <<< echo "hello ~{who}" >>>
  output { String out = read_string(stdout()) }
  runtime { docker: "ubuntu:22.04" cpu: 1 memory: "1G" }
}
"""

REQUIRED_INPUT_WDL = HELLO_WDL.replace('String who = "world"', "String who_to_greet").replace(
    "input: who = who", "input: who = who_to_greet"
)
SYNTAX_WDL = HELLO_WDL.replace("call greet {", "call greet {{")
TYPE_WDL = HELLO_WDL.replace(
    'String who = "world"', 'String who = "world"\n    Int n = length(who)'
)


def _huge_wdl() -> str:
    """A valid WDL too large to pass inline even compressed (Batch: 8,192-character container
    overrides, 30 KiB per SubmitJob): 40 KiB of pseudo-random comment text."""
    rnd = random.Random(0)
    lines = ("# " + "".join(rnd.choice("0123456789abcdef") for _ in range(78)) for _ in range(512))
    return HELLO_WDL + "\n".join(lines) + "\n"


HUGE_WDL = _huge_wdl()
IMPORT_WDL = 'version 1.0\nimport "nope_import.wdl" as nope\n' + HELLO_WDL.split("\n", 1)[1]

# Words that make a line read as an error report rather than an echo of settings.
_ERROR_WORDS = re.compile(
    r"error|invalid|must|not |no such|unknown|cannot|can't|fail|missing|should|requires|"
    r"expected|too |exceed|unable|does not|isn't|unreadable|refus",
    re.IGNORECASE,
)

Files = Dict[str, Union[str, bytes, None]]  # None: a directory


@dataclasses.dataclass(frozen=True)
class BadInput:
    """One bad input.

    :param name: short description for the report
    :param kind: ``config``, ``cli`` or ``wdl``
    :param tool: ``miniwdl`` (``miniwdl run`` + backend), ``submit`` (``miniwdl_submit_awsbatch``)
        or ``ops`` (``miniwdl-aws`` run tools)
    :param args: arguments; ``{wdl}`` is the good WDL, ``{dir}`` the case's folder, ``{efs}`` the
        EFS stand-in, ``{bucket}`` the stack's bucket
    :param env: settings to add (``None`` value: remove the variable)
    :param needles: any one of these (case-insensitive) on an error line names the problem
    :param files: extra files to create in the case's folder (``None``: a directory)
    """

    name: str
    kind: str
    tool: str
    args: Tuple[str, ...]
    needles: Tuple[str, ...]
    env: Tuple[Tuple[str, Optional[str]], ...] = ()
    files: Tuple[Tuple[str, Union[str, bytes, None]], ...] = ()


def _c(name: str, key: str, value: Optional[str], *needles: str) -> BadInput:
    """A config case: ``miniwdl run`` of a good workflow with one bad ``[aws]`` setting."""
    env_name = f"MINIWDL__AWS__{key.upper()}"
    return BadInput(name, "config", "miniwdl", ("{wdl}",), needles or (key,), ((env_name, value),))


def _s(name: str, args: Sequence[str], *needles: str, **kw: object) -> BadInput:
    """A submitter case."""
    kind = str(kw.pop("kind", "cli"))
    return BadInput(name, kind, "submit", tuple(args), tuple(needles), **kw)  # type: ignore[arg-type]


FSAP_UNKNOWN = "fsap-0123456789abcdef0"

CASES: List[BadInput] = [
    # --- config of the task backend (miniwdl run, MINIWDL__AWS__*) ---
    _c("task_queue unset", "task_queue", None, "task_queue"),
    _c("task_queue unknown", "task_queue", "no-such-queue-rel", "no-such-queue-rel"),
    _c("fsap malformed", "fsap", "fsap-NOPE", "fsap"),
    _c("fsap unknown", "fsap", FSAP_UNKNOWN, FSAP_UNKNOWN),
    _c("fs malformed", "fs", "fs-zz", "fs-zz", "MINIWDL__AWS__FS"),
    _c("job_timeout not a number", "job_timeout", "soon", "job_timeout"),
    _c("job_timeout under 60 s", "job_timeout", "10", "job_timeout"),
    _c("boto3_retries not JSON", "boto3_retries", "{max_attempts: 3", "boto3_retries"),
    _c("boto3_retries unknown mode", "boto3_retries", '{"mode": "turbo"}', "boto3_retries"),
    _c(
        "container_properties override image",
        "container_properties",
        '{"image": "x"}',
        "container_properties",
    ),
    _c("job_tags not an object", "job_tags", "[1, 2]", "job_tags"),
    _c("submit_period negative", "submit_period", "-1", "submit_period"),
    _c("describe_period zero", "describe_period", "0", "describe_period"),
    _c("retry_wait not a number", "retry_wait", "later", "retry_wait"),
    _c("container_sync not a boolean", "container_sync", "maybe", "container_sync"),
    _c(
        "task_queue_fallback unknown",
        "task_queue_fallback",
        "no-such-fallback-rel",
        "no-such-fallback-rel",
    ),
    # --- WDL given to miniwdl run (miniwdl's own checks, before any job) ---
    BadInput(
        "WDL syntax error (run)",
        "wdl",
        "miniwdl",
        ("{dir}/syntax.wdl",),
        ("syntax", "Ln "),
        files=(("syntax.wdl", SYNTAX_WDL),),
    ),
    BadInput(
        "WDL type error (run)",
        "wdl",
        "miniwdl",
        ("{dir}/type.wdl",),
        ("length", "Expected Array", "type"),
        files=(("type.wdl", TYPE_WDL),),
    ),
    BadInput(
        "required input missing (run)",
        "wdl",
        "miniwdl",
        ("{dir}/req.wdl",),
        ("who_to_greet",),
        files=(("req.wdl", REQUIRED_INPUT_WDL),),
    ),
    # --- submitter command line ---
    _s(
        "no workflow queue",
        ["{wdl}"],
        "workflow-queue",
        "workflow_queue",
        env=(("MINIWDL__AWS__WORKFLOW_QUEUE", None),),
    ),
    _s("unknown workflow queue", ["{wdl}", "--workflow-queue", "no-such-wq-rel"], "no-such-wq-rel"),
    _s("unknown task queue", ["{wdl}", "--task-queue", "no-such-tq-rel"], "no-such-tq-rel"),
    _s("fsap malformed", ["{wdl}", "--fsap", "fsap-NOPE"], "fsap"),
    _s("fsap unknown", ["{wdl}", "--fsap", FSAP_UNKNOWN], FSAP_UNKNOWN),
    _s(
        "--s3upload not an s3:// URI",
        ["{wdl}", "--s3upload", "http://bucket/x/"],
        "s3upload",
        "s3://",
    ),
    _s(
        "--s3upload bucket missing",
        ["{wdl}", "--s3upload", "s3://no-such-bucket-rel/x/"],
        "no-such-bucket-rel",
    ),
    _s(
        "--delete-after without --s3upload",
        ["{wdl}", "--delete-after", "success"],
        "delete-after",
        "s3upload",
    ),
    _s(
        "--delete-after bad value",
        ["{wdl}", "--s3upload", "s3://{bucket}/x/", "--delete-after", "sometimes"],
        "delete-after",
        "sometimes",
    ),
    _s("--cpu zero", ["{wdl}", "--cpu", "0"], "cpu"),
    _s("--cpu not a number", ["{wdl}", "--cpu", "lots"], "cpu"),
    _s("--memory-GiB negative", ["{wdl}", "--memory-GiB", "-1"], "memory"),
    _s(
        "--dir outside the mount",
        ["{wdl}", "--dir", "/elsewhere-rel/runs"],
        "--dir",
        "/elsewhere-rel",
    ),
    _s("--timeout under Batch's 60 s", ["{wdl}", "--timeout", "10"], "timeout"),
    _s("--timeout not a duration", ["{wdl}", "--timeout", "soonish"], "timeout", "soonish"),
    _s("--tag without =", ["{wdl}", "--tag", "novalue"], "tag", "novalue"),
    _s(
        "bad [aws] env for the submitter",
        ["{wdl}"],
        "s3_upload_delete_after",
        env=(("MINIWDL__AWS__S3_UPLOAD_DELETE_AFTER", "sometimes"),),
    ),
    # --- run tools (miniwdl-aws) ---
    BadInput(
        "cleanup: malformed run id", "cli", "ops", ("cleanup", "bad id!"), ("bad id!", "run id")
    ),
    BadInput(
        "cleanup: unknown queue",
        "cli",
        "ops",
        ("cleanup", "mw261125T000000-abcdef", "--queue", "no-such-q-rel"),
        ("no-such-q-rel",),
    ),
    BadInput(
        "cleanup: --wait not a number",
        "cli",
        "ops",
        ("cleanup", "mw261125T000000-abcdef", "--wait", "soon"),
        ("wait", "soon"),
    ),
    BadInput(
        "runs: --cfg missing", "config", "ops", ("--cfg", "{dir}/nope.cfg", "runs"), ("nope.cfg",)
    ),
    # --- WDL and inputs given to the submitter (checked before shipping) ---
    _s("WDL file missing", ["{dir}/nope.wdl"], "nope.wdl", kind="wdl"),
    _s(
        "WDL path is a directory",
        ["{dir}/folder.wdl"],
        "folder.wdl",
        kind="wdl",
        files=(("folder.wdl", None),),
    ),
    _s(
        "WDL not UTF-8",
        ["{dir}/binary.wdl"],
        "binary.wdl",
        "utf",
        "decode",
        kind="wdl",
        files=(("binary.wdl", b"version 1.0\n\xff\xfe\x00\x81 workflow"),),
    ),
    _s(
        "WDL syntax error",
        ["{dir}/syntax.wdl"],
        "syntax",
        "Ln ",
        kind="wdl",
        files=(("syntax.wdl", SYNTAX_WDL),),
    ),
    _s(
        "WDL type error",
        ["{dir}/type.wdl"],
        "length",
        "Expected Array",
        "type",
        kind="wdl",
        files=(("type.wdl", TYPE_WDL),),
    ),
    _s(
        "WDL import missing",
        ["{dir}/imp.wdl"],
        "nope_import",
        kind="wdl",
        files=(("imp.wdl", IMPORT_WDL),),
    ),
    _s(
        "required input missing",
        ["{dir}/req.wdl"],
        "who_to_greet",
        kind="wdl",
        files=(("req.wdl", REQUIRED_INPUT_WDL),),
    ),
    _s(
        "inputs JSON malformed",
        ["{wdl}", "-i", "{dir}/bad.json"],
        "bad.json",
        "json",
        kind="wdl",
        files=(("bad.json", '{"who": '),),
    ),
    _s("inputs JSON missing", ["{wdl}", "-i", "{dir}/nothere.json"], "nothere.json", kind="wdl"),
    _s(
        "WDL too large to pass inline, no S3",
        ["{dir}/huge.wdl"],
        "too large",
        "too big",
        "KiB",
        "limit",
        "size",
        kind="wdl",
        files=(("huge.wdl", HUGE_WDL),),
    ),
]


@dataclasses.dataclass
class Outcome:
    """What one bad input did."""

    case: BadInput
    exit_code: Optional[int]
    error_line: Optional[str]
    traceback: bool
    output: str

    @property
    def problems(self) -> List[str]:
        """Everything wrong with the outcome (empty: as required); job submission is checked
        separately from the emulator's call counts."""
        out = []
        if self.exit_code is None:
            out.append("hung")
        elif self.exit_code == 0:
            out.append("exit 0")
        if self.traceback:
            out.append("traceback")
        if not self.error_line:
            out.append(f"no error line naming {list(self.case.needles)}")
        return out


def _error_line(text: str, needles: Sequence[str]) -> Optional[str]:
    for line in text.splitlines():
        low = line.lower()
        if any(n.lower() in low for n in needles) and _ERROR_WORDS.search(line):
            return line.strip()
    return None


def _bucket(aws: LocalAws) -> str:
    return str(aws.stack.get("bucket") or "bucket")


def run_case(aws: LocalAws, case: BadInput, index: int) -> Outcome:
    """Run one case in its own folder and judge its output."""
    folder = os.path.join(aws.workdir, "bad", f"{index:02d}")
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    wdl = write(os.path.join(folder, "hello.wdl"), HELLO_WDL)
    for rel, content in case.files:
        path = os.path.join(folder, rel)
        if content is None:
            os.makedirs(path, exist_ok=True)
        elif isinstance(content, bytes):
            with open(path, "wb") as f:
                f.write(content)
        else:
            write(path, content)
    subst = {"wdl": wdl, "dir": folder, "efs": aws.efs_dir, "bucket": _bucket(aws)}
    args = [a.format(**subst) for a in case.args]
    env = runner_env(aws)
    for key, value in case.env:
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    # Any job the case starts can be traced back to it: task jobs by the run id in their
    # names, the submitter's workflow job by its --name.
    if case.tool == "miniwdl":
        rundir = os.path.join(aws.efs_dir, "runs", "bad", f"{index:02d}", ".")
        cmd = [PYTHON, "-m", "WDL", "run", *args, "--dir", rundir, "--no-color"]
        env["MINIWDL_AWS_RUN_ID"] = _tag(index)
    elif case.tool == "ops":
        cmd = [os.path.join(BIN, "miniwdl-aws"), *args]
    else:
        cmd = [os.path.join(BIN, "miniwdl_submit_awsbatch"), *args, "--name", _tag(index)]
        cmd += ["--mount", aws.efs_dir] if "--mount" not in args else []
    code, out, err = run(cmd, env, folder, "case", timeout=120)
    text = out + "\n" + err
    return Outcome(
        case, code, _error_line(text, case.needles), "Traceback (most recent" in text, text
    )


def _tag(index: int) -> str:
    return f"relcase{index:02d}"


def jobs_by_case(aws: LocalAws) -> Dict[int, int]:
    """Jobs started by each case index, from job names and run-id tags (a submitted workflow
    job's task jobs share its run id)."""
    jobs = aws.all_jobs()
    run_to_case: Dict[str, int] = {}
    for job in jobs:
        m = re.search(r"relcase(\d\d)$", job["jobName"])
        if m:
            run_to_case[(job.get("tags") or {}).get("MiniwdlRunId", "")] = int(m.group(1))
    counts: Dict[int, int] = {}
    for job in jobs:
        m = re.match(r"relcase(\d\d)-", job["jobName"])
        idx = (
            int(m.group(1))
            if m
            else run_to_case.get((job.get("tags") or {}).get("MiniwdlRunId", ""), -1)
        )
        counts[idx] = counts.get(idx, 0) + 1
    return counts


def run_all(
    aws: LocalAws, cases: Sequence[BadInput] = CASES, workers: int = 2
) -> Tuple[List[Outcome], Dict[str, int]]:
    """Run every case (``workers`` at a time) and return the outcomes plus the jobs each case
    started (index -1: jobs no case can be tied to, also a failure)."""
    with ThreadPoolExecutor(workers) as pool:
        outcomes = list(pool.map(lambda ic: run_case(aws, ic[1], ic[0]), enumerate(cases)))
    counts = jobs_by_case(aws)
    submitted = {c.name: counts.get(i, 0) for i, c in enumerate(cases)}
    if counts.get(-1):
        submitted["(unattributed)"] = counts[-1]
    return outcomes, submitted
