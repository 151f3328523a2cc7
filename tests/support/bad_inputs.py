"""The one table of bad inputs: config, command-line and WDL mistakes users make.

Two suites judge it:

- the reliability row (``tests/reliability/scenarios/inputs.py``) runs *every* case as a real
  process (``miniwdl run`` with the ``aws_batch_job`` backend configured by ``MINIWDL__AWS__*``,
  the submitter ``miniwdl_submit_awsbatch``, or the run tools ``miniwdl-aws``): each must exit
  non-zero with no traceback, print a line naming the problem (one of ``needles`` on a line that
  reads as an error) and start no job;
- ``tests/submit/test_bad_inputs.py`` calls the submitter's ``main`` in process on every case
  with a ``message``: exit 2, exactly one line on stderr containing ``message``, and no
  SubmitJob, RegisterJobDefinition or S3 write.
"""

from __future__ import annotations

import dataclasses
import os
import random
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

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
INT_INPUT_WDL = "version 1.0\nworkflow needs { input { Int n } output { Int m = n } }\n"
FILE_INPUT_WDL = (
    "version development\nworkflow reads {\n  input { File f  Array[Directory] ds = [] }\n"
    "  output { File g = f }\n}\n"
)


def _huge_wdl() -> str:
    """A valid WDL too large to pass inline even compressed (Batch: 8,192-character container
    overrides, 30 KiB per SubmitJob): 40 KiB of pseudo-random comment text."""
    rnd = random.Random(0)
    lines = ("# " + "".join(rnd.choice("0123456789abcdef") for _ in range(78)) for _ in range(512))
    return HELLO_WDL + "\n".join(lines) + "\n"


HUGE_WDL = _huge_wdl()
IMPORT_WDL = 'version 1.0\nimport "nope_import.wdl" as nope\n' + HELLO_WDL.split("\n", 1)[1]

FSAP_UNKNOWN = "fsap-0123456789abcdef0"
# job queues made by :func:`create_bad_queues`
DISABLED_QUEUE = "disabled-q"  # DISABLED itself
NO_USABLE_CE_QUEUE = "no-usable-ce-q"  # ENABLED, over a DISABLED compute environment only
FARGATE_TASK_QUEUE = "fargate-tq"  # ENABLED, over a Fargate compute environment only


@dataclasses.dataclass(frozen=True)
class BadInput:
    """One bad input.

    :param name: short description (unique in the table; the in-process test's id)
    :param kind: ``config``, ``cli`` or ``wdl``
    :param tool: ``miniwdl`` (``miniwdl run`` + backend), ``submit`` (``miniwdl_submit_awsbatch``)
        or ``ops`` (``miniwdl-aws`` run tools)
    :param args: arguments; ``{wdl}`` is a good WDL, ``{dir}`` the case's folder, ``{efs}`` the
        EFS stand-in, ``{bucket}`` the stack's bucket
    :param needles: any one of these (case-insensitive) on an error line names the problem
    :param env: settings to add (``None`` value: remove the variable)
    :param files: files to create in the case's folder (``None``: a directory)
    :param message: submitter cases: what its one-line refusal contains (empty: the case is
        judged only by the reliability row)
    """

    name: str
    kind: str
    tool: str
    args: Tuple[str, ...]
    needles: Tuple[str, ...]
    env: Tuple[Tuple[str, Optional[str]], ...] = ()
    files: Tuple[Tuple[str, Union[str, bytes, None]], ...] = ()
    message: str = ""


def _c(name: str, key: str, value: Optional[str], *needles: str) -> BadInput:
    """A config case: ``miniwdl run`` of a good workflow with one bad ``[aws]`` setting."""
    env_name = f"MINIWDL__AWS__{key.upper()}"
    return BadInput(name, "config", "miniwdl", ("{wdl}",), needles or (key,), ((env_name, value),))


def _s(name: str, args: Sequence[str], message: str, *needles: str, **kw: Any) -> BadInput:
    """A submitter case refused with ``message``; ``needles`` default to ``(message,)``."""
    kind = str(kw.pop("kind", "cli"))
    return BadInput(
        name, kind, "submit", tuple(args), tuple(needles) or (message,), message=message, **kw
    )


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
        "--workflow-queue",
        "workflow-queue",
        "workflow_queue",
        env=(("MINIWDL__AWS__WORKFLOW_QUEUE", None),),
    ),
    _s(
        "unknown workflow queue",
        ["{wdl}", "--workflow-queue", "no-such-wq-rel"],
        "not found",
        "no-such-wq-rel",
    ),
    _s(
        "disabled workflow queue",
        ["{wdl}", "--workflow-queue", DISABLED_QUEUE],
        "DISABLED",
        DISABLED_QUEUE,
    ),
    _s(
        "unknown task queue",
        ["{wdl}", "--task-queue", "no-such-tq-rel"],
        "not found",
        "no-such-tq-rel",
    ),
    # the rule the backend would apply only once the workflow job runs (queues.py)
    _s(
        "task queue without a usable compute environment",
        ["{wdl}", "--task-queue", NO_USABLE_CE_QUEUE],
        f"--task-queue: job queue {NO_USABLE_CE_QUEUE!r} can never run a task job: no ENABLED"
        " and VALID compute environment",
        NO_USABLE_CE_QUEUE,
    ),
    _s(
        "task queue on Fargate only",
        ["{wdl}", "--task-queue", FARGATE_TASK_QUEUE],
        f"--task-queue: job queue {FARGATE_TASK_QUEUE!r} can never run a task job: runs on"
        " Fargate only",
        FARGATE_TASK_QUEUE,
    ),
    _s(
        "unknown fallback queue",
        ["{wdl}", "--task-queue-fallback", "no-such-fbq-rel"],
        "not found",
        "no-such-fbq-rel",
    ),
    _s("bad fsap format", ["{wdl}", "--fsap", "fsap-NOPE"], "not an EFS access point id", "fsap"),
    _s("fsap not found", ["{wdl}", "--fsap", FSAP_UNKNOWN], "not found", FSAP_UNKNOWN),
    _s(
        "s3upload not s3",
        ["{wdl}", "--s3upload", "http://bucket/x/"],
        "malformed S3 URI",
        "s3upload",
        "s3://",
    ),
    _s(
        "malformed s3upload",
        ["{wdl}", "--s3upload", "s3:/bucket/x"],
        "malformed S3 URI",
        "s3upload",
        "s3:/bucket/x",
    ),
    _s(
        "missing bucket",
        ["{wdl}", "--s3upload", "s3://no-such-bucket-rel/x/"],
        "does not exist",
        "no-such-bucket-rel",
    ),
    _s(
        "delete-after without s3upload",
        ["{wdl}", "--delete-after", "success"],
        "requires --s3upload",
        "delete-after",
        "s3upload",
    ),
    _s(
        "delete-after bad value",
        ["{wdl}", "--s3upload", "s3://{bucket}/x/", "--delete-after", "sometimes"],
        "must be one of",
        "delete-after",
        "sometimes",
    ),
    _s("--cpu zero", ["{wdl}", "--cpu", "0"], "must be positive", "cpu"),
    _s("--cpu not a number", ["{wdl}", "--cpu", "lots"], "must be a number", "cpu"),
    _s("--memory-GiB negative", ["{wdl}", "--memory-GiB", "-1"], "must be positive", "memory"),
    _s(
        "bad Fargate size",
        ["{wdl}", "--cpu", "1", "--memory-GiB", "30"],
        "Fargate cannot run",
        "Fargate",
    ),
    _s(
        "dir outside the mount",
        ["{wdl}", "--dir", "/elsewhere-rel/runs"],
        "must be under the mount",
        "--dir",
        "/elsewhere-rel",
    ),
    _s(
        "dir escaping with ..",
        ["{wdl}", "--dir", "{efs}/../x"],
        "must be under the mount",
        "--dir",
    ),
    _s("timeout too short", ["{wdl}", "--timeout", "10"], "at least 60", "timeout"),
    _s(
        "--timeout not a duration",
        ["{wdl}", "--timeout", "soonish"],
        "not a duration",
        "timeout",
        "soonish",
    ),
    _s("bad tag", ["{wdl}", "--tag", "novalue"], "KEY=VALUE", "tag", "novalue"),
    # AWS's tag rules, for every source of tags (counting the 7 tags miniwdl-aws adds)
    _s(
        "tag with a character AWS refuses",
        ["{wdl}", "--tag", "team=a*b"],
        "characters AWS does not allow",
        "a*b",
    ),
    _s("tag key with aws: prefix", ["{wdl}", "--tag", "aws:team=x"], "aws:", "aws:team"),
    _s(
        "too many tags",
        ["{wdl}", *(a for i in range(44) for a in ("--tag", f"k{i}=v"))],
        "too many",
        "tags",
    ),
    _s(
        "job_tags value too long",
        ["{wdl}"],
        "(AWS allows 256)",
        "job_tags",
        "256",
        env=(("MINIWDL__AWS__JOB_TAGS", '{"team": "' + "v" * 257 + '"}'),),
        kind="config",
    ),
    _s(
        "job_definition_prefix not a name",
        ["{wdl}"],
        "job_definition_prefix",
        env=(("MINIWDL__AWS__JOB_DEFINITION_PREFIX", "my prefix!"),),
        kind="config",
    ),
    _s(
        "bad role ARN",
        ["{wdl}", "--workflow-role", "admin"],
        "not an IAM role ARN",
        "workflow-role",
        "role ARN",
    ),
    _s(
        "bad miniwdl run args",
        ["{wdl}", "--no-such-flag"],
        "miniwdl run arguments",
        "--no-such-flag",
        "miniwdl run arguments",
    ),
    _s("miniwdl -d instead of --dir", ["{wdl}", "-d", "x"], "--dir", "--dir"),
    _s(
        "bad [aws] env for the submitter",
        ["{wdl}"],
        "s3_upload_delete_after",
        env=(("MINIWDL__AWS__S3_UPLOAD_DELETE_AFTER", "sometimes"),),
        kind="config",
    ),
    _s(
        "bad config value",
        ["{wdl}"],
        "s3_upload_folder",
        env=(("MINIWDL__AWS__S3_UPLOAD_FOLDER", "bucket/x"),),
        kind="config",
    ),
    # settings passed through to the workflow job, read as its miniwdl would read them (each
    # of these used to start a workflow job that then failed)
    _s(
        "passed-through [aws] option not a number",
        ["{wdl}"],
        "passed through to the workflow job",
        "submit_period",
        env=(("MINIWDL__AWS__SUBMIT_PERIOD", "abc"),),
        kind="config",
    ),
    _s(
        "passed-through container_properties with a reserved key",
        ["{wdl}"],
        "may not override ['image']",
        "container_properties",
        env=(("MINIWDL__AWS__CONTAINER_PROPERTIES", '{"image": "x"}'),),
        kind="config",
    ),
    _s(
        "passed-through miniwdl option of the wrong type",
        ["{wdl}"],
        "MINIWDL__SCHEDULER__TASK_CONCURRENCY='lots'",
        "task_concurrency",
        env=(("MINIWDL__SCHEDULER__TASK_CONCURRENCY", "lots"),),
        kind="config",
    ),
    _s(
        "passed-through miniwdl boolean not a boolean",
        ["{wdl}"],
        "[scheduler] fail_fast should be bool",
        "fail_fast",
        env=(("MINIWDL__SCHEDULER__FAIL_FAST", "perhaps"),),
        kind="config",
    ),
    _s(
        "passed-through describe_period_max below describe_period",
        ["{wdl}"],
        "describe_period_max",
        env=(("MINIWDL__AWS__DESCRIBE_PERIOD", "5"), ("MINIWDL__AWS__DESCRIBE_PERIOD_MAX", "1")),
        kind="config",
    ),
    _s(
        "miniwdl --cfg file on the laptop",
        ["{wdl}", "--cfg", "{dir}/my.cfg"],
        "the workflow job cannot read this machine's files",
        "--cfg",
        kind="config",
        files=(("my.cfg", "[scheduler]\ntask_concurrency = 4\n"),),
    ),
    # File/Directory inputs the workflow job's miniwdl could not read
    _s(
        "File input with a relative path",
        ["{dir}/reads.wdl", "f=data/x.txt"],
        "is a relative path",
        "data/x.txt",
        kind="wdl",
        files=(("reads.wdl", FILE_INPUT_WDL), ("data", None), ("data/x.txt", "x")),
    ),
    _s(
        "File input outside the mount",
        ["{dir}/reads.wdl", "f={dir}/x.txt"],
        "is outside the mount",
        "x.txt",
        kind="wdl",
        files=(("reads.wdl", FILE_INPUT_WDL), ("x.txt", "x")),
    ),
    _s(
        "Directory input in the inputs JSON with a relative path",
        ["{dir}/reads.wdl", "-i", "{dir}/rel.json"],
        "Directory input 'd1' is a relative path",
        "d1",
        kind="wdl",
        files=(
            ("reads.wdl", FILE_INPUT_WDL),
            ("rel.json", '{"reads.f": "s3://b/x.txt", "reads.ds": ["d1"]}'),
        ),
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
    BadInput("logs: malformed run id", "cli", "ops", ("logs", "bad id!"), ("bad id!", "run id")),
    BadInput(
        "logs: unknown run", "cli", "ops", ("logs", "mw261125T000000-abcdef"), ("no jobs found",)
    ),
    BadInput("runs: --since negative", "cli", "ops", ("runs", "--since", "-3"), ("--since",)),
    BadInput(
        "cleanup: --wait negative",
        "cli",
        "ops",
        ("cleanup", "mw261125T000000-abcdef", "--wait", "-5"),
        ("--wait",),
    ),
    BadInput("no subcommand", "cli", "ops", (), ("COMMAND",)),
    # --- WDL and inputs given to the submitter (checked before shipping) ---
    _s("missing WDL", ["{dir}/nope.wdl"], "not found", "nope.wdl", kind="wdl"),
    _s(
        "WDL is a directory",
        ["{dir}/folder.wdl"],
        "not found",
        "folder.wdl",
        kind="wdl",
        files=(("folder.wdl", None),),
    ),
    _s(
        "WDL not UTF-8",
        ["{dir}/binary.wdl"],
        "not UTF-8",
        "binary.wdl",
        "utf",
        "decode",
        kind="wdl",
        files=(("binary.wdl", b"version 1.0\n\xff\xfe\x00\x81 workflow"),),
    ),
    _s(
        "WDL syntax error",
        ["{dir}/syntax.wdl"],
        "invalid WDL",
        "syntax",
        "Ln ",
        kind="wdl",
        files=(("syntax.wdl", SYNTAX_WDL),),
    ),
    _s(
        "WDL type error",
        ["{dir}/type.wdl"],
        "invalid WDL",
        "length",
        "Expected Array",
        "type",
        kind="wdl",
        files=(("type.wdl", TYPE_WDL),),
    ),
    _s(
        "WDL import missing",
        ["{dir}/imp.wdl"],
        "invalid WDL",
        "nope_import",
        kind="wdl",
        files=(("imp.wdl", IMPORT_WDL),),
    ),
    _s(
        "required input missing",
        ["{dir}/req.wdl"],
        "missing required inputs",
        "who_to_greet",
        kind="wdl",
        files=(("req.wdl", REQUIRED_INPUT_WDL),),
    ),
    _s("unknown input", ["{wdl}", "nosuch=1"], "No such input", "nosuch", kind="wdl"),
    _s(
        "input of the wrong type",
        ["{dir}/needs_int.wdl", "n=abc"],
        "inputs:",
        "abc",
        "Int",
        kind="wdl",
        files=(("needs_int.wdl", INT_INPUT_WDL),),
    ),
    _s(
        "inputs not JSON",
        ["{wdl}", "-i", "{dir}/bad.json"],
        "not valid JSON",
        "bad.json",
        "json",
        kind="wdl",
        files=(("bad.json", '{"who": '),),
    ),
    _s(
        "inputs missing",
        ["{wdl}", "-i", "{dir}/nothere.json"],
        "cannot read inputs",
        "nothere.json",
        kind="wdl",
    ),
    _s(
        "oversized inline payload",
        ["{dir}/huge.wdl"],
        "too large",
        "too large",
        "too big",
        "KiB",
        "limit",
        "size",
        kind="wdl",
        files=(("huge.wdl", HUGE_WDL),),
    ),
]


def by_tool(tool: str) -> List[BadInput]:
    """The cases of one tool (``miniwdl``, ``submit``, ``ops``), in table order."""
    return [c for c in CASES if c.tool == tool]


def prepare(case: BadInput, folder: str, efs: str, bucket: str) -> List[str]:
    """Create the case's folder content (a good ``hello.wdl`` plus the case's files) and return
    its arguments with the placeholders filled in."""
    os.makedirs(folder, exist_ok=True)
    wdl = os.path.join(folder, "hello.wdl")
    with open(wdl, "w") as f:
        f.write(HELLO_WDL)
    for rel, content in case.files:
        path = os.path.join(folder, rel)
        if content is None:
            os.makedirs(path, exist_ok=True)
        elif isinstance(content, bytes):
            with open(path, "wb") as f:
                f.write(content)
        else:
            with open(path, "w") as f:
                f.write(content)
    subst = {"wdl": wdl, "dir": folder, "efs": efs, "bucket": bucket}
    return [a.format(**subst) for a in case.args]


def apply_env(case: BadInput, env: Dict[str, str]) -> Dict[str, str]:
    """``env`` with the case's settings added (or removed)."""
    out = dict(env)
    for key, value in case.env:
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def create_bad_queues(batch: Any, compute_environment: str) -> None:
    """The job queues that the cases name (:data:`DISABLED_QUEUE`, :data:`NO_USABLE_CE_QUEUE`,
    :data:`FARGATE_TASK_QUEUE`), beside the stack whose task compute environment is
    ``compute_environment``."""

    def queue(name: str, state: str, ce: str) -> None:
        batch.create_job_queue(
            jobQueueName=name,
            state=state,
            priority=1,
            computeEnvironmentOrder=[{"order": 1, "computeEnvironment": ce}],
        )

    queue(DISABLED_QUEUE, "DISABLED", compute_environment)
    envs = batch.describe_compute_environments()["computeEnvironments"]
    task_ce = next(ce for ce in envs if compute_environment == ce["computeEnvironmentArn"])
    disabled = batch.create_compute_environment(
        computeEnvironmentName="disabled-task-ce",
        type="MANAGED",
        state="DISABLED",
        computeResources=task_ce["computeResources"],
        serviceRole=task_ce["serviceRole"],
    )["computeEnvironmentArn"]
    queue(NO_USABLE_CE_QUEUE, "ENABLED", disabled)
    fargate = next(
        ce["computeEnvironmentArn"]
        for ce in envs
        if ce.get("computeResources", {}).get("type") == "FARGATE"
    )
    queue(FARGATE_TASK_QUEUE, "ENABLED", fargate)
