"""SageMaker Studio detection with a metadata file and a stubbed SageMaker API."""

from __future__ import annotations

import json
import logging
from typing import Any, Dict, List

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.stub import Stubber

from miniwdl_aws.aws.clients import AwsClients
from miniwdl_aws.errors import ConfigError
from miniwdl_aws.ops.doctor import OK, PROBLEM, Doctor, Targets
from miniwdl_aws.studio import STUDIO_QUEUE_TAG, detect_studio, studio_settings

DOMAIN, USER, FS, UID = "d-abc123", "alyssa", "fs-0123456789abcdef0", "200001"


@pytest.fixture
def metadata(tmp_path: Any) -> str:
    path = tmp_path / "resource-metadata.json"
    path.write_text(json.dumps({"DomainId": DOMAIN, "UserProfileName": USER, "AppType": "x"}))
    return str(path)


@pytest.fixture
def classic_mounts(tmp_path: Any) -> str:
    """A mount table of Studio Classic: the user's EFS directory over NFS at $HOME."""
    path = tmp_path / "mounts"
    path.write_text(
        "overlay / overlay rw,relatime 0 0\n"
        + "".join(
            f"127.0.0.1:/{UID} {home} nfs4 rw,relatime,vers=4.1 0 0\n"
            for home in ("/home/sagemaker-user", "/root", "/home/u")
        )
    )
    return str(path)


def _stub(clients: AwsClients, service: str) -> Stubber:
    stub = Stubber(clients(service))
    stub.activate()
    return stub


def _stub_sagemaker(clients: AwsClients, fs_id: str = FS, uid: str = UID) -> Stubber:
    sm = _stub(clients, "sagemaker")
    sm.add_response(
        "describe_domain", {"DomainId": DOMAIN, "HomeEfsFileSystemId": fs_id}, {"DomainId": DOMAIN}
    )
    sm.add_response(
        "describe_user_profile",
        {"DomainId": DOMAIN, "UserProfileName": USER, "HomeEfsFileSystemUid": uid},
        {"DomainId": DOMAIN, "UserProfileName": USER},
    )
    return sm


def _ap(ap_id: str, path: str, uid: int, state: str = "available") -> Dict[str, Any]:
    return {
        "AccessPointId": ap_id,
        "AccessPointArn": f"arn:aws:elasticfilesystem:us-east-1:123456789012:access-point/{ap_id}",
        "FileSystemId": FS,
        "LifeCycleState": state,
        "PosixUser": {"Uid": uid, "Gid": uid},
        "RootDirectory": {"Path": path},
    }


def _queue(name: str, tags: Dict[str, str], state: str = "ENABLED") -> Dict[str, Any]:
    return {
        "jobQueueName": name,
        "jobQueueArn": f"arn:aws:batch:us-east-1:123456789012:job-queue/{name}",
        "state": state,
        "status": "VALID",
        "priority": 1,
        "computeEnvironmentOrder": [],
        "tags": tags,
    }


@pytest.fixture
def api_calls(monkeypatch: pytest.MonkeyPatch) -> List[str]:
    """Every AWS API call made during the test by any boto3 client created during it, as
    ``before-call.<service>.<Operation>``: a botocore ``before-call`` hook on each client records
    the call and answers it with an empty response, so nothing reaches the network and no error
    (which the code may catch and swallow) can hide a call."""
    calls: List[str] = []
    make_client = boto3.session.Session.client

    def record(event_name: str, **_: Any) -> Any:
        calls.append(event_name)
        return AWSResponse("https://no-network.invalid/", 200, {}, None), {}

    def client(self: Any, *args: Any, **kwargs: Any) -> Any:
        made = make_client(self, *args, **kwargs)
        made.meta.events.register("before-call", record)
        return made

    monkeypatch.setattr(boto3.session.Session, "client", client)
    return calls


def test_not_in_studio_makes_no_calls(tmp_path: Any, api_calls: List[str]) -> None:
    clients = AwsClients("us-east-1")
    assert detect_studio(clients, metadata_file=str(tmp_path / "absent.json")) is None
    bad = tmp_path / "bad.json"
    bad.write_text('{"DomainId": ""}')
    assert detect_studio(clients, metadata_file=str(bad)) is None
    assert api_calls == []
    # the hook does see these clients' calls (else the zero above would prove nothing)
    clients("sts").get_caller_identity()
    assert api_calls == ["before-call.sts.GetCallerIdentity"]


def test_detects_home_efs_access_point_and_queue(
    metadata: str, classic_mounts: str, caplog: pytest.LogCaptureFixture
) -> None:
    clients = AwsClients("us-east-1")
    sm = _stub_sagemaker(clients)
    efs = _stub(clients, "efs")
    efs.add_response(
        "describe_access_points",
        {
            "AccessPoints": [
                _ap("fsap-0wronguid", f"/{UID}", 0),
                _ap("fsap-0notready", f"/{UID}", 200001, "creating"),
            ],
            "NextToken": "page2",
        },
        {"FileSystemId": FS, "MaxResults": 100},
    )
    efs.add_response(
        "describe_access_points",
        {"AccessPoints": [_ap("fsap-0home", f"/{UID}/", 200001)]},
        {"FileSystemId": FS, "MaxResults": 100, "NextToken": "page2"},
    )
    batch = _stub(clients, "batch")
    batch.add_response(
        "describe_job_queues",
        {
            "jobQueues": [
                _queue("other-fs", {STUDIO_QUEUE_TAG: "fs-other"}),
                _queue("default-disabled", {STUDIO_QUEUE_TAG: FS}, state="DISABLED"),
                _queue("studio-tasks", {STUDIO_QUEUE_TAG: FS}),
                _queue("default-tasks", {STUDIO_QUEUE_TAG: FS}),
            ]
        },
        {},
    )
    logger = logging.getLogger("test-studio")
    with caplog.at_level(logging.INFO, logger="test-studio"):
        found = detect_studio(clients, logger, metadata, "/home/sagemaker-user", classic_mounts)
    for stub in (sm, efs, batch):
        stub.assert_no_pending_responses()
    assert found is not None
    assert (found.domain_id, found.user_profile, found.fs_id, found.uid) == (DOMAIN, USER, FS, UID)
    assert found.efs_home == f"/{UID}" and found.mount == "/home/sagemaker-user"
    assert found.fsap == "fsap-0home"
    assert found.task_queue == "default-tasks"  # default-* preferred among the enabled, tagged
    assert found.notes == []
    text = found.describe()
    for part in (
        DOMAIN,
        USER,
        FS,
        f"/{UID}",
        "fsap-0home",
        "default-tasks",
        "/home/sagemaker-user",
    ):
        assert part in text
    assert any("detected SageMaker Studio" in r.getMessage() for r in caplog.records)


def test_says_what_is_missing(metadata: str, classic_mounts: str) -> None:
    clients = AwsClients("us-east-1")
    _stub_sagemaker(clients)
    efs = _stub(clients, "efs")
    efs.add_response(
        "describe_access_points",
        {"AccessPoints": [_ap("fsap-0other", "/somewhere", 200001)]},
        {"FileSystemId": FS, "MaxResults": 100},
    )
    batch = _stub(clients, "batch")
    batch.add_response("describe_job_queues", {"jobQueues": [_queue("q", {})]}, {})
    found = detect_studio(clients, None, metadata, "/root", classic_mounts)
    assert found is not None and found.fsap is None and found.task_queue is None
    assert len(found.notes) == 2
    assert f"root directory /{UID} and uid {UID}" in found.notes[0]
    assert f"{STUDIO_QUEUE_TAG}={FS}" in found.notes[1]
    assert "access point NOT FOUND" in found.describe()


def test_domain_error_is_a_warning(metadata: str, caplog: pytest.LogCaptureFixture) -> None:
    clients = AwsClients("us-east-1")
    sm = _stub(clients, "sagemaker")
    sm.add_client_error("describe_domain", "AccessDeniedException", "not allowed")
    logger = logging.getLogger("test-studio")
    with caplog.at_level(logging.WARNING, logger="test-studio"):
        assert detect_studio(clients, logger, metadata_file=metadata) is None
    assert any("AccessDeniedException" in r.getMessage() for r in caplog.records)


def test_root_problem(metadata: str, classic_mounts: str) -> None:
    clients = AwsClients("us-east-1")
    _stub_sagemaker(clients)
    _stub(clients, "efs").add_response(
        "describe_access_points", {"AccessPoints": []}, {"FileSystemId": FS, "MaxResults": 100}
    )
    _stub(clients, "batch").add_response("describe_job_queues", {"jobQueues": []}, {})
    found = detect_studio(clients, None, metadata, "/home/sagemaker-user", classic_mounts)
    assert found is not None
    assert found.root_problem("/home/sagemaker-user") is None
    assert found.root_problem("/home/sagemaker-user/miniwdl_run/") is None
    problem = found.root_problem("/mnt/efs")
    assert problem and problem.endswith("set it to /home/sagemaker-user")
    assert found.root_problem("/home/sagemaker-user2") is not None


def test_doctor_uses_studio_on_the_local_aws(stack: Any, metadata: str) -> None:
    """Inside Studio with nothing configured, doctor finds the access point and queue through
    the (stubbed) SageMaker API and checks them on the local AWS."""
    efs, batch = boto3.client("efs"), boto3.client("batch")
    ap = efs.create_access_point(
        FileSystemId=stack.fs_id,
        PosixUser={"Uid": int(UID), "Gid": int(UID)},
        RootDirectory={
            "Path": f"/{UID}",
            "CreationInfo": {"OwnerUid": int(UID), "OwnerGid": int(UID), "Permissions": "0755"},
        },
    )["AccessPointId"]
    queue_arn = batch.describe_job_queues(jobQueues=[stack.task_queue])["jobQueues"][0]
    batch.tag_resource(resourceArn=queue_arn["jobQueueArn"], tags={STUDIO_QUEUE_TAG: stack.fs_id})
    clients = AwsClients("us-east-1")
    _stub_sagemaker(clients, fs_id=stack.fs_id)
    checks = Doctor(clients, Targets(region="us-east-1"), studio_metadata_file=metadata).run()
    lines: List[str] = [c.line() for c in checks]
    studio = [c for c in checks if c.name == "SageMaker Studio"]
    assert len(studio) == 1 and studio[0].status == OK, lines
    assert ap in studio[0].detail and stack.task_queue in studio[0].detail
    assert not [c for c in checks if c.status == PROBLEM], lines
    assert any(c.name == f"EFS access point {ap}" and c.status == OK for c in checks), lines
    assert any(c.name == f"task queue {stack.task_queue}" and c.status == OK for c in checks)


def _stub_found(clients: AwsClients, with_ap: bool = True, with_queue: bool = True) -> None:
    _stub_sagemaker(clients)
    aps = [_ap("fsap-0home", f"/{UID}", int(UID))] if with_ap else []
    _stub(clients, "efs").add_response(
        "describe_access_points", {"AccessPoints": aps}, {"FileSystemId": FS, "MaxResults": 100}
    )
    queues = [_queue("default-q", {STUDIO_QUEUE_TAG: FS})] if with_queue else []
    _stub(clients, "batch").add_response("describe_job_queues", {"jobQueues": queues}, {})


def test_studio_settings_fill_only_what_is_unset(metadata: str, classic_mounts: str) -> None:
    clients = AwsClients("us-east-1")
    _stub_found(clients)
    got = studio_settings(
        clients,
        None,
        task_queue="mine",
        file_io_root="/home/u/runs",
        metadata_file=metadata,
        home="/home/u",
        mounts_file=classic_mounts,
    )
    assert got is not None
    assert (got.fs_id, got.fsap, got.task_queue, got.uid) == (FS, "fsap-0home", "mine", UID)


def test_studio_settings_none_outside_studio(tmp_path: Any) -> None:
    clients = AwsClients("us-east-1")
    assert studio_settings(clients, None, metadata_file=str(tmp_path / "none.json")) is None


@pytest.mark.parametrize(
    "kwargs,found,message",
    [
        ({"fs_id": "fs-00000000"}, {}, "is not the SageMaker Studio home EFS"),
        ({"file_io_root": "/mnt/efs"}, {}, "set it to /home/u"),
        ({}, {"with_ap": False}, f"root directory /{UID} and uid {UID}; create one or set"),
        ({}, {"with_queue": False}, f"{STUDIO_QUEUE_TAG}={FS}; tag one or set [aws] task_queue"),
    ],
)
def test_studio_settings_conflicts_are_config_errors(
    metadata: str, classic_mounts: str, kwargs: Dict[str, str], found: Dict[str, bool], message: str
) -> None:
    clients = AwsClients("us-east-1")
    _stub_found(clients, **found)
    with pytest.raises(ConfigError) as info:
        studio_settings(
            clients,
            None,
            metadata_file=metadata,
            home="/home/u",
            mounts_file=classic_mounts,
            **kwargs,
        )
    assert message in str(info.value) and "\n" not in str(info.value)


# --- Studio (JupyterLab / Code Editor spaces): $HOME is on the space's EBS volume, and the user's
# EFS folder is at $HOME/user-default-efs when EFS auto-mounting is on
# (https://docs.aws.amazon.com/sagemaker/latest/dg/studio-updated-automount.html)

HOME = "/home/sagemaker-user"
AUTOMOUNT = f"{HOME}/user-default-efs"


@pytest.fixture
def space_metadata(tmp_path: Any) -> str:
    path = tmp_path / "space-metadata.json"
    path.write_text(
        json.dumps(
            {
                "AppType": "JupyterLab",
                "DomainId": DOMAIN,
                "UserProfileName": USER,
                "SpaceName": "alyssa-lab",
                "ResourceArn": f"arn:aws:sagemaker:us-east-1:123456789012:app/{DOMAIN}/"
                "alyssa-lab/JupyterLab/default",
                "ResourceName": "default",
            }
        )
    )
    return str(path)


def _mounts(tmp_path: Any, *lines: str) -> str:
    path = tmp_path / "space-mounts"
    path.write_text("overlay / overlay rw,relatime 0 0\n" + "".join(ln + "\n" for ln in lines))
    return str(path)


EBS_HOME = f"/dev/nvme1n1 {HOME} ext4 rw,relatime 0 0"
EFS_AUTOMOUNT = f"127.0.0.1:/ {AUTOMOUNT} nfs4 rw,relatime,vers=4.1 0 0"


def test_space_uses_studios_efs_automount(tmp_path: Any, space_metadata: str) -> None:
    mounts = _mounts(tmp_path, EBS_HOME, EFS_AUTOMOUNT)
    clients = AwsClients("us-east-1")
    _stub_found(clients)
    found = detect_studio(clients, None, space_metadata, HOME, mounts)
    assert found is not None and found.mount == AUTOMOUNT and found.mount_problem is None
    assert found.notes == [] and f"mounted at {AUTOMOUNT}" in found.describe()
    # [file_io] root must then be the auto-mount or beneath it
    assert found.root_problem(f"{AUTOMOUNT}/runs") is None
    assert (
        found.root_problem(HOME)
        == f"[file_io] root is {HOME}; inside SageMaker Studio set it to {AUTOMOUNT}"
    )
    clients = AwsClients("us-east-1")
    _stub_found(clients)
    got = studio_settings(
        clients,
        None,
        file_io_root=f"{AUTOMOUNT}/runs",
        metadata_file=space_metadata,
        home=HOME,
        mounts_file=mounts,
    )
    assert got is not None and (got.fsap, got.uid) == ("fsap-0home", UID)


def test_space_without_efs_is_one_config_error_saying_what_to_do(
    tmp_path: Any, space_metadata: str
) -> None:
    mounts = _mounts(tmp_path, EBS_HOME)
    clients = AwsClients("us-east-1")
    _stub_found(clients)
    found = detect_studio(clients, None, space_metadata, HOME, mounts)
    assert found is not None and found.mount == "" and found.mount_problem
    assert found.notes[0] == found.mount_problem and "NO PATH HERE" in found.describe()
    assert found.root_problem(HOME) == found.mount_problem
    clients = AwsClients("us-east-1")
    _stub_found(clients)
    with pytest.raises(ConfigError) as info:
        # even with [file_io] root set to $HOME: task jobs would not write there
        studio_settings(
            clients,
            None,
            file_io_root=HOME,
            metadata_file=space_metadata,
            home=HOME,
            mounts_file=mounts,
        )
    text = str(info.value)
    assert "\n" not in text
    for part in (
        "JupyterLab space alyssa-lab",
        f"$HOME ({HOME}) is on its ext4 volume",
        FS,
        AUTOMOUNT,
        f"root directory /{UID}",
        "[aws] fsap",
        "[file_io] root",
    ):
        assert part in text, (part, text)


def test_space_with_efs_mounted_and_set_explicitly_uses_those_settings(
    tmp_path: Any, space_metadata: str
) -> None:
    mounts = _mounts(tmp_path, EBS_HOME, "127.0.0.1:/ /mnt/efs nfs4 rw,vers=4.1 0 0")
    clients = AwsClients("us-east-1")
    _stub_found(clients)
    assert (
        studio_settings(
            clients,
            None,
            fsap="fsap-0mine",
            file_io_root="/mnt/efs/runs",
            metadata_file=space_metadata,
            home=HOME,
            mounts_file=mounts,
        )
        is None
    )
    # a [file_io] root that is not on NFS, or no [aws] fsap: still the error
    for kwargs in (
        {"fsap": "fsap-0mine", "file_io_root": f"{HOME}/runs"},
        {"file_io_root": "/mnt/efs/runs"},
    ):
        clients = AwsClients("us-east-1")
        _stub_found(clients)
        with pytest.raises(ConfigError, match="is not on the domain's EFS|on its ext4 volume"):
            studio_settings(
                clients, None, metadata_file=space_metadata, home=HOME, mounts_file=mounts, **kwargs
            )


@pytest.mark.parametrize("app_type,in_space", [("JupyterServer", False), ("JupyterLab", True)])
def test_without_a_mount_table_the_app_type_decides(
    tmp_path: Any, app_type: str, in_space: bool
) -> None:
    meta = tmp_path / "meta.json"
    meta.write_text(json.dumps({"AppType": app_type, "DomainId": DOMAIN, "UserProfileName": USER}))
    clients = AwsClients("us-east-1")
    _stub_found(clients)
    found = detect_studio(clients, None, str(meta), HOME, str(tmp_path / "no-such-mounts"))
    assert found is not None
    assert (found.mount, bool(found.mount_problem)) == (("", True) if in_space else (HOME, False))


def test_mount_table_longest_prefix_and_escapes(tmp_path: Any) -> None:
    from miniwdl_aws.studio import _mount_of

    table = _mounts(
        tmp_path,
        "/dev/sda1 /home ext4 rw 0 0",
        "server:/x /home/my\\040files nfs4 rw 0 0",
        "server:/y /home/my nfs rw 0 0",
    )
    assert _mount_of("/home/my files/a", table) == ("/home/my files", "nfs4")
    assert _mount_of("/home/my/b", table) == ("/home/my", "nfs")
    assert _mount_of("/home/myself", table) == ("/home", "ext4")
    assert _mount_of("/etc", table) == ("/", "overlay")
    assert _mount_of("/etc", str(tmp_path / "absent")) is None


def test_space_on_this_machines_real_mount_table(tmp_path: Any, space_metadata: str) -> None:
    """With the real /proc/mounts (the default), a $HOME that is not on NFS inside a Studio
    space is refused instead of being taken for the EFS mount (as Studio Classic's was)."""
    home = str(tmp_path / "home")
    try:
        table = open("/proc/mounts").read()
    except OSError:
        pytest.skip("no /proc/mounts here")
    points = sorted(
        (ln.split()[1], ln.split()[2]) for ln in table.splitlines() if len(ln.split()) > 2
    )
    fstype = [t for p, t in points if home == p or home.startswith(p.rstrip("/") + "/")][-1]
    if fstype.startswith("nfs"):
        pytest.skip("the test's tmp dir is on NFS here")
    clients = AwsClients("us-east-1")
    _stub_found(clients)
    with pytest.raises(ConfigError, match="Studio's EFS auto-mount"):
        studio_settings(clients, None, file_io_root=home, metadata_file=space_metadata, home=home)
