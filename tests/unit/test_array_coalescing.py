"""Array jobs (``batch/arrays.py``): which requests share an array, the list file and the
parent's dispatcher (run in a real bash), and the coalescer's grouping, plain fallback,
withdrawal on termination and lost-response recovery."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from typing import Any, Dict, List, Optional

import pytest

from miniwdl_aws import naming
from miniwdl_aws.batch import arrays
from miniwdl_aws.batch.submitter import AdaptiveSubmitter, SubmitAborted
from miniwdl_aws.errors import Ambiguous


def request(
    i: int, script: str = "/efs/call-x/batch_task.sh", memory: str = "512"
) -> Dict[str, Any]:
    return {
        "jobName": f"mw1-call-x-{i}",
        "jobQueue": "q",
        "jobDefinition": "jd",
        "containerOverrides": {
            "command": ["/bin/bash", script],
            "environment": [
                {"name": naming.ENV_JOB_RUN_ID, "value": "mw1"},
                {"name": naming.ENV_TASK_RUN_ID, "value": f"call-x-{i}"},
                {"name": naming.ENV_TASK_ATTEMPT, "value": "1"},
            ],
            "resourceRequirements": [
                {"type": "VCPU", "value": "1"},
                {"type": "MEMORY", "value": memory},
            ],
        },
        "timeout": {"attemptDurationSeconds": 3600},
        "tags": {
            naming.TAG_RUN_ID: "mw1",
            naming.TAG_CALL: f"call-x-{i}",
            naming.TAG_ATTEMPT: "1",
            "team": "a",
        },
        "propagateTags": True,
    }


def test_group_key_ignores_only_what_is_per_task() -> None:
    assert arrays.group_key(request(1)) == arrays.group_key(request(2, script="/efs/other.sh"))
    assert arrays.group_key(request(1)) != arrays.group_key(request(1, memory="1024"))
    other_queue = dict(request(1), jobQueue="q2")
    assert arrays.group_key(request(1)) != arrays.group_key(other_queue)
    other_tag = request(1)
    other_tag["tags"]["team"] = "b"
    assert arrays.group_key(request(1)) != arrays.group_key(other_tag)


def test_array_request_is_one_parent_of_the_group() -> None:
    reqs = [request(i) for i in range(3)]
    parent = arrays.array_request(reqs, "mw1-array1", "/efs/list")
    assert parent["arrayProperties"] == {"size": 3}
    assert parent["jobName"] == "mw1-array1"
    assert parent["containerOverrides"]["command"] == arrays.dispatcher_command("/efs/list")
    names = [e["name"] for e in parent["containerOverrides"]["environment"]]
    assert names == [naming.ENV_JOB_RUN_ID]
    shape = {k: v for k, v in parent.items() if k != "arrayProperties"}
    assert arrays.group_key(shape) == arrays.group_key(reqs[0])  # nothing else changed
    assert reqs[0]["containerOverrides"]["command"][0] == "/bin/bash"  # inputs untouched


def test_each_child_runs_its_own_script_with_its_own_environment(tmp_path: Any) -> None:
    reqs = []
    for i in range(3):
        script = tmp_path / f"task {i}" / "batch_task.sh"  # a space: quoting matters
        script.parent.mkdir()
        script.write_text(f'echo "script {i} $MINIWDL_TASK_RUN_ID $MINIWDL_TASK_ATTEMPT"\n')
        reqs.append(request(i, script=str(script)))
    list_file = tmp_path / "array.list"
    list_file.write_text("".join(arrays.child_line(r) + "\n" for r in reqs))
    command = arrays.dispatcher_command(str(list_file))
    for i in range(3):
        env = dict(os.environ, AWS_BATCH_JOB_ARRAY_INDEX=str(i))
        out = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
        assert out.stdout == f"script {i} call-x-{i} 1\n"
    beyond = dict(os.environ, AWS_BATCH_JOB_ARRAY_INDEX="3")
    assert subprocess.run(command, env=beyond, capture_output=True).returncode != 0
    no_index = {k: v for k, v in os.environ.items() if k != "AWS_BATCH_JOB_ARRAY_INDEX"}
    assert subprocess.run(command, env=no_index, capture_output=True).returncode != 0


class FakeApi:
    """SubmitJob recording requests; the first ``lose`` responses are lost after creating."""

    def __init__(self, lose: int = 0) -> None:
        self.requests: List[Dict[str, Any]] = []
        self.created: Dict[str, str] = {}
        self.lose = lose
        self.lookups = 0

    def submit_job(self, req: Dict[str, Any]) -> str:
        self.requests.append(req)
        job_id = f"P{len(self.requests)}"
        self.created[req["jobName"]] = job_id
        if self.lose:
            self.lose -= 1
            raise Ambiguous("SubmitJob", "ReadTimeoutError", "response lost")
        return job_id

    def find_job(self, job_queue: str, job_name: str, created_after_ms: int) -> Optional[str]:
        self.lookups += 1
        return self.created.get(job_name)


def coalescer(api: FakeApi, tmp_path: Any, **kw: Any) -> arrays.ArrayCoalescer:
    # quiet as long as the window: these tests close groups by size, not by a pause
    args: Dict[str, Any] = {
        "window": 60.0,
        "quiet": 60.0,
        "min_size": 2,
        "max_size": 4,
        "lone_plain": False,
    }
    args.update(kw)
    return arrays.ArrayCoalescer(api, AdaptiveSubmitter(max_rate=1000.0, burst=10), **args)


def offer_all(
    co: arrays.ArrayCoalescer, reqs: List[Dict[str, Any]], terminating: Any = lambda: False
) -> List[Any]:
    """Offer every request from its own thread (as miniwdl's task threads do)."""
    import logging

    results: List[Any] = [None] * len(reqs)

    def one(i: int) -> None:
        try:
            results[i] = co.submit(logging.getLogger("t"), reqs[i], terminating)
        except BaseException as exn:
            results[i] = exn

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(reqs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def _scripts(tmp_path: Any, n: int) -> List[Dict[str, Any]]:
    reqs = []
    for i in range(n):
        script = tmp_path / f"call-{i}" / "batch_task.sh"
        script.parent.mkdir(exist_ok=True)
        reqs.append(request(i, script=str(script)))
    return reqs


def test_a_full_group_is_one_array_job_each_attempt_its_own_child(tmp_path: Any) -> None:
    api = FakeApi()
    reqs = _scripts(tmp_path, 4)
    results = offer_all(coalescer(api, tmp_path), reqs)  # max_size 4: closes when full
    assert len(api.requests) == 1
    parent = api.requests[0]
    assert parent["arrayProperties"] == {"size": 4}
    assert sorted(results) == [f"P1:{i}" for i in range(4)]
    # child i runs the script of the attempt that got id P1:i
    list_file = parent["containerOverrides"]["command"][-1]
    lines = open(list_file).read().splitlines()
    for req, child in zip(reqs, results):
        index = int(child.rpartition(":")[2])
        assert lines[index] == arrays.child_line(req)


def test_a_group_below_the_minimum_goes_plain(tmp_path: Any) -> None:
    api = FakeApi()
    results = offer_all(coalescer(api, tmp_path, window=0.0), _scripts(tmp_path, 1))
    assert results == [None] and api.requests == []


def test_an_aborted_attempt_leaves_its_open_group(tmp_path: Any) -> None:
    import logging

    api = FakeApi()
    co = coalescer(api, tmp_path, max_size=3)
    reqs = _scripts(tmp_path, 4)
    with pytest.raises(SubmitAborted):
        co.submit(logging.getLogger("t"), reqs[3], lambda: True)
    results = offer_all(co, reqs[:3])
    assert len(api.requests) == 1 and api.requests[0]["arrayProperties"] == {"size": 3}
    lines = open(api.requests[0]["containerOverrides"]["command"][-1]).read().splitlines()
    assert arrays.child_line(reqs[3]) not in lines
    assert sorted(results) == [f"P1:{i}" for i in range(3)]


def test_a_lost_response_is_settled_by_name_without_a_twin(tmp_path: Any) -> None:
    api = FakeApi(lose=1)
    results = offer_all(coalescer(api, tmp_path, recovery_seconds=0.0), _scripts(tmp_path, 4))
    assert len(api.requests) == 1 and api.lookups >= 1  # found by name, never resubmitted
    assert sorted(results) == [f"P1:{i}" for i in range(4)]


def test_split_child_id() -> None:
    assert arrays.split_child_id("abc-def:12") == ("abc-def", 12)
    assert arrays.split_child_id("abc-def") is None
    assert arrays.split_child_id(":3") is None


def test_an_unwritable_list_file_sends_the_group_plain(tmp_path: Any) -> None:
    api = FakeApi()
    reqs = [request(i, script=str(tmp_path / "missing-dir" / "batch_task.sh")) for i in range(4)]
    assert offer_all(coalescer(api, tmp_path), reqs) == [None] * 4
    assert api.requests == []


def test_a_lone_attempt_goes_plain_at_once_and_the_next_ones_gather(tmp_path: Any) -> None:
    import logging

    api = FakeApi()
    co = coalescer(api, tmp_path, lone_plain=True)
    reqs = _scripts(tmp_path, 5)
    # the first of its shape: plain, without joining a group (one that waited would see
    # terminating() and raise SubmitAborted)
    assert co.submit(logging.getLogger("t"), reqs[0], lambda: True) is None
    results = offer_all(co, reqs[1:])  # within the window: they gather (max_size 4)
    assert len(api.requests) == 1 and sorted(results) == [f"P1:{i}" for i in range(4)]


def test_a_group_closes_when_no_attempt_has_joined_for_the_quiet_time(tmp_path: Any) -> None:
    # a burst of 3 (max_size 4, window 60 s): submitted once the burst is over, not 60 s later
    api = FakeApi()
    now = [100.0]
    co = coalescer(api, tmp_path, quiet=0.15, clock=lambda: now[0])
    reqs = _scripts(tmp_path, 3)

    def pause_after_the_burst() -> None:
        key = arrays.group_key(reqs[0])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with co._lock:
                group = co._open.get(key)
                if group is not None and len(group.members) == 3:
                    now[0] += 0.2  # a pause longer than quiet, far shorter than the window
                    return
            time.sleep(0.01)

    pauser = threading.Thread(target=pause_after_the_burst)
    pauser.start()
    results = offer_all(co, reqs)
    pauser.join()
    assert len(api.requests) == 1 and api.requests[0]["arrayProperties"] == {"size": 3}
    assert sorted(results) == [f"P1:{i}" for i in range(3)]


def test_a_join_does_not_wake_the_attempts_already_waiting(tmp_path: Any) -> None:
    """A wide scatter has hundreds of attempts waiting in the coalescer. Waking all of them at
    every join (one condition for every group) cost the runner a futex storm; a waiting attempt
    should wake only for its group's outcome and its periodic check of ``terminating()``."""
    import logging

    n = 40
    api = FakeApi()
    co = coalescer(api, tmp_path, max_size=n)  # closes when the last one joins
    calls = [0]
    first_in = threading.Event()

    def counted() -> bool:
        calls[0] += 1
        first_in.set()
        return False

    reqs = _scripts(tmp_path, n)
    result: List[Any] = []
    started = time.monotonic()
    first = threading.Thread(
        target=lambda: result.append(co.submit(logging.getLogger("t"), reqs[0], counted))
    )
    first.start()
    assert first_in.wait(10)
    offer_all(co, reqs[1:])
    first.join(30)
    elapsed = time.monotonic() - started
    assert result == ["P1:0"]
    # one check on entry, one per WAKE_SECONDS of waiting, one for the outcome; 39 joins must
    # not add 39 more
    assert calls[0] <= 3 + elapsed / arrays.WAKE_SECONDS, (calls[0], elapsed)
