"""Drivers for the reliability scenarios: the local AWS as the scenarios see it (side channel,
observer clients, the stack's names), the AWS-side view (active jobs, call counts) that every
figure is measured from, and which product parts exist.

Runner processes (``miniwdl run``, the submitter, ``miniwdl-aws cleanup``) are always real child
processes (:class:`tests.support.procs.Proc`). All traffic stays on 127.0.0.1; every process gets
fake credentials and an empty config home, so no real AWS account or user configuration can leak
in. See :mod:`.served` for the local AWS as a separate process and :mod:`.proxy` for connection
resets.
"""

from __future__ import annotations

import importlib
import json
import os
import time
import urllib.request
from typing import Any, Callable, Dict, Iterable, List, Optional

import boto3
import botocore.config

from tests.support.procs import BIN

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

ACTIVE_STATUSES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING")

# Fake credentials for every process; scenarios that scan for leaks use their own marked ones.
FAKE_CREDS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


class PartBroken(Exception):
    """A product module that exists failed to import: a finding (FAIL), never "not run"."""


def part_missing(*modules: str) -> Optional[str]:
    """None when every module imports; ``"part missing: <module>"`` for the first that does not
    exist at all (it, or a package it would be in, is absent), so a scenario whose product part
    has not landed is reported as not run.

    A module that exists but fails to import (a syntax error, a missing dependency, a broken
    import inside it...) is broken, not missing: that raises :class:`PartBroken`, which the
    scenarios turn into a failed row.
    """
    for module in modules:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            absent = exc.name or ""
            if absent and (module == absent or module.startswith(absent + ".")):
                return f"part missing: {module} ({exc})"
            raise PartBroken(f"{module} does not import: {type(exc).__name__}: {exc}") from exc
        except Exception as exc:
            raise PartBroken(f"{module} does not import: {type(exc).__name__}: {exc}") from exc
    return None


def base_env(tmp: str) -> Dict[str, str]:
    """A clean environment for child processes: PATH with this venv first, fake credentials,
    no AWS profile or config files, no user miniwdl.cfg, no inherited MINIWDL_* settings."""
    env = {
        "PATH": BIN + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": tmp,
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "XDG_CONFIG_HOME": os.path.join(tmp, "xdg"),
        "AWS_CONFIG_FILE": os.path.join(tmp, "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": os.path.join(tmp, "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "PYTHONUNBUFFERED": "1",
    }
    env.update(FAKE_CREDS)
    return env


class LocalAws:
    """A local AWS endpoint as the scenarios see it: its side channel (faults, call counts),
    boto3 clients, the reference stack's names, and the environment for child processes.

    :param endpoint: ``http://127.0.0.1:<port>``
    :param exports: environment that points a process at it (endpoint, region, ``MINIWDL__*``)
    :param stack: names of the bootstrapped stack (``task_queue``, ``bucket``, ...)
    :param workdir: scratch directory of the scenario
    :param efs_dir: the EFS stand-in (``[file_io] root``)
    """

    def __init__(
        self,
        endpoint: str,
        exports: Dict[str, str],
        stack: Dict[str, Any],
        workdir: str,
        efs_dir: str,
    ) -> None:
        self.exports = dict(exports, AWS_ENDPOINT_URL=endpoint)
        self.stack = dict(stack)
        self.workdir = workdir
        self.efs_dir = efs_dir
        self._clients: Dict[str, Any] = {}
        # faults every scenario meets under its own (e.g. the realistic profile); set_faults
        # puts a scenario's spec on top of them and clearing leaves them
        self.base_faults: Dict[str, Any] = {}

    @classmethod
    def in_process(cls, emulator: Any, stack: Any, workdir: str) -> LocalAws:
        """Wrap a started, bootstrapped :class:`miniwdl_aws.emulator.Emulator`."""
        exports = dict(emulator.env())
        exports.update(stack.miniwdl_env())
        return cls(emulator.endpoint_url, exports, stack.as_dict(), workdir, stack.efs_dir)

    # --- side channel ---

    @property
    def endpoint(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return self.exports["AWS_ENDPOINT_URL"].rstrip("/")

    def _request(self, method: str, path: str, body: Optional[Any] = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            f"{self.endpoint}/_emulator/{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            text = resp.read().decode()
        return json.loads(text) if text.strip() else None

    def get(self, path: str) -> Any:
        """GET ``/_emulator/<path>`` as JSON."""
        return self._request("GET", path)

    def set_faults(self, spec: Dict[str, Any]) -> None:
        """Replace the fault spec (``{}`` clears it), keeping ``base_faults`` under it."""
        self._request("POST", "faults", {**self.base_faults, **spec})

    def configure(self, **values: Any) -> Dict[str, Any]:
        """Change emulator settings (``kill_grace``, ``dwell``...); returns the previous ones."""
        previous = dict(self.get("config"))
        self._request("POST", "config", values)
        return {k: previous[k] for k in values if k in previous}

    def calls(self) -> Dict[str, int]:
        """API call counts so far, ``{"batch.SubmitJob": n, ...}``."""
        return dict(self.get("stats").get("calls", {}))

    # --- the AWS view ---

    def env(self) -> Dict[str, str]:
        """Environment for a process talking to this emulator (exports + fake credentials)."""
        env = base_env(self.workdir)
        env.update(self.exports)
        env.update(FAKE_CREDS)
        return env

    def client(self, service: str) -> Any:
        """A boto3 client bound to the emulator for *observing* it: its calls are marked as the
        emulator's own, so they are neither counted in the stats nor hit by injected faults."""
        if service not in self._clients:
            from miniwdl_aws.emulator._state import INTERNAL_HEADER

            client = boto3.session.Session(
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
                region_name=self.exports.get("AWS_DEFAULT_REGION", "us-east-1"),
            ).client(  # type: ignore[call-overload]
                service,
                endpoint_url=self.endpoint,
                config=botocore.config.Config(retries={"total_max_attempts": 3}),
            )

            def mark(request: Any, **_: Any) -> None:
                request.headers[INTERNAL_HEADER] = "1"

            client.meta.events.register("before-send", mark)
            self._clients[service] = client
        return self._clients[service]

    @property
    def queues(self) -> List[str]:
        """Every job queue of the stack."""
        out: List[str] = []
        for page in self.client("batch").get_paginator("describe_job_queues").paginate():
            out += [q["jobQueueName"] for q in page["jobQueues"]]
        return out

    def jobs(
        self, statuses: Iterable[str] = ACTIVE_STATUSES, prefix: str = ""
    ) -> List[Dict[str, Any]]:
        """Job summaries (ListJobs) over every queue, optionally only names starting ``prefix``.

        One per task: an array parent (``[aws] array_jobs``) is left out when any of its
        children is listed (each child is one task's job, and a twin array would show as extra
        children), and kept, as one job, while none is (its children not created yet)."""
        batch = self.client("batch")
        out: List[Dict[str, Any]] = []
        for queue in self.queues:
            for status in statuses:
                kwargs: Dict[str, Any] = {"jobQueue": queue, "jobStatus": status}
                for page in batch.get_paginator("list_jobs").paginate(**kwargs):
                    out += [
                        dict(j, jobQueue=queue)
                        for j in page["jobSummaryList"]
                        if j["jobName"].startswith(prefix)
                    ]
        with_children = {j["jobId"].rpartition(":")[0] for j in out if ":" in j["jobId"]}
        return [j for j in out if j["jobId"] not in with_children]

    def all_jobs(self, prefix: str = "") -> List[Dict[str, Any]]:
        """Full DescribeJobs records of every job (any status)."""
        statuses = ACTIVE_STATUSES + ("SUCCEEDED", "FAILED")
        ids = [j["jobId"] for j in self.jobs(statuses, prefix)]
        out: List[Dict[str, Any]] = []
        for i in range(0, len(ids), 100):  # DescribeJobs takes at most 100 ids
            out += self.client("batch").describe_jobs(jobs=ids[i : i + 100])["jobs"]
        return out

    def active_count(self, prefix: str = "") -> int:
        """Jobs not yet terminal (SUCCEEDED/FAILED)."""
        return len(self.jobs(ACTIVE_STATUSES, prefix))

    def wait_until(
        self, check: Callable[[], bool], timeout: float, period: float = 0.2
    ) -> Optional[float]:
        """Seconds until ``check()`` held, or None after ``timeout`` (a hang guard)."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if check():
                return time.monotonic() - t0
            time.sleep(period)
        return None
