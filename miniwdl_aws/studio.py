"""SageMaker Studio detection: the user's home EFS, uid, a matching access point and task queue.

Inside a SageMaker Studio app, ``/opt/ml/metadata/resource-metadata.json`` names the domain and
user profile. The domain's ``HomeEfsFileSystemId`` is the EFS that Studio mounts at ``$HOME``,
and the user profile's ``HomeEfsFileSystemUid`` is the POSIX uid that owns the user's directory
``/<uid>`` on it. Task jobs can share the user's files by mounting an access point of that file
system whose root directory is ``/<uid>`` and whose POSIX user is that uid; the task queue is a
job queue tagged ``MiniwdlStudioEfsId = <file system id>`` (the convention of miniwdl-aws 0.12.2
and its Studio recipe).

Integration point for the backend: in ``global_init``, call :func:`studio_settings` with the
configured ``[aws] fs``/``fsap``/``task_queue`` and ``[file_io] root``; when it returns settings,
use them (explicit settings always win, conflicts raise :class:`~miniwdl_aws.errors.ConfigError`)
and run task containers as ``uid`` when ``[task_runtime] as_user`` is on.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from typing import Any, Dict, List, Optional

from ._util import _
from .aws.batch import BatchApi
from .aws.clients import AwsClients
from .aws.efs import EfsApi
from .aws.sagemaker import SageMakerApi
from .errors import AwsCallError, ConfigError

__all__ = [
    "STUDIO_METADATA_FILE",
    "STUDIO_QUEUE_TAG",
    "StudioDetection",
    "StudioSettings",
    "detect_studio",
    "studio_settings",
]

STUDIO_METADATA_FILE = "/opt/ml/metadata/resource-metadata.json"
# Tag on a job queue meaning "the default task queue for Studio users of this EFS".
STUDIO_QUEUE_TAG = "MiniwdlStudioEfsId"


@dataclasses.dataclass(frozen=True)
class StudioDetection:
    """What was found about the SageMaker Studio environment we run in."""

    domain_id: str
    user_profile: str
    fs_id: str  # the domain's home EFS
    uid: str  # the user's POSIX uid on it
    efs_home: str  # the user's directory on the EFS, "/<uid>"
    mount: str  # where Studio mounts that directory here ($HOME)
    fsap: Optional[str]  # an access point presenting efs_home as uid, if any
    task_queue: Optional[str]  # a job queue tagged for this EFS, if any
    notes: List[str] = dataclasses.field(default_factory=list)

    def describe(self) -> str:
        """One line saying what was detected, for logs and ``doctor``."""
        parts = [
            f"SageMaker Studio domain {self.domain_id} user {self.user_profile}:",
            f"home EFS {self.fs_id} directory {self.efs_home} (uid {self.uid}) mounted at"
            f" {self.mount};",
            f"access point {self.fsap or 'NOT FOUND'};",
            f"task queue {self.task_queue or 'NOT FOUND'}",
        ]
        return " ".join(parts)

    def root_problem(self, file_io_root: str) -> Optional[str]:
        """Why ``[file_io] root`` cannot work with the Studio mount (it must be the Studio home
        mount or beneath it, so that paths mean the same in Studio and in task jobs), or None."""
        mount = self.mount.rstrip("/") or "/"
        root = file_io_root.rstrip("/") or "/"
        if root == mount or root.startswith(mount + "/"):
            return None
        return f"[file_io] root is {file_io_root}; inside SageMaker Studio set it to {mount}"


def _read_metadata(path: str) -> Optional[Dict[str, Any]]:
    try:
        with open(path) as infile:
            meta = json.load(infile)
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or not meta.get("DomainId") or not meta.get("UserProfileName"):
        return None
    return meta


def detect_studio(
    clients: AwsClients,
    logger: Optional[logging.Logger] = None,
    metadata_file: str = STUDIO_METADATA_FILE,
    home: Optional[str] = None,
) -> Optional[StudioDetection]:
    """Detect SageMaker Studio; None when not inside Studio or when the domain cannot be read
    (logged as a warning, with the reason).

    :param clients: shared clients (``sagemaker``, ``efs``, ``batch`` are used)
    :param metadata_file: Studio's resource metadata file (injectable for tests)
    :param home: where Studio mounts the user's EFS directory (default ``$HOME``)
    """
    meta = _read_metadata(metadata_file)
    if meta is None:
        return None
    domain_id, user = str(meta["DomainId"]), str(meta["UserProfileName"])
    try:
        sagemaker = SageMakerApi(clients)
        fs_id = sagemaker.home_efs(domain_id)
        uid = sagemaker.home_uid(domain_id, user)
    except AwsCallError as exn:
        if logger:
            logger.warning(
                _(
                    "found SageMaker Studio metadata but could not read the domain",
                    metadata=metadata_file,
                    domain=domain_id,
                    user=user,
                    error=str(exn),
                )
            )
        return None
    notes: List[str] = []
    efs_home = f"/{uid}"
    fsap = _find_access_point(clients, fs_id, uid, efs_home, notes)
    queue = _find_task_queue(clients, fs_id, notes)
    found = StudioDetection(
        domain_id=domain_id,
        user_profile=user,
        fs_id=fs_id,
        uid=uid,
        efs_home=efs_home,
        mount=home if home is not None else os.environ.get("HOME", "/root"),
        fsap=fsap,
        task_queue=queue,
        notes=notes,
    )
    if logger:
        logger.notice(_("detected SageMaker Studio", **dataclasses.asdict(found)))  # type: ignore[attr-defined]
    return found


def _find_access_point(
    clients: AwsClients, fs_id: str, uid: str, efs_home: str, notes: List[str]
) -> Optional[str]:
    """An available access point of ``fs_id`` rooted at ``efs_home`` acting as ``uid``."""
    try:
        for ap in EfsApi(clients).access_points(fs_id):
            if (
                ap.get("LifeCycleState") == "available"
                and ap.get("RootDirectory", {}).get("Path", "").rstrip("/") == efs_home
                and str(ap.get("PosixUser", {}).get("Uid", "")) == uid
            ):
                return str(ap["AccessPointId"])
    except AwsCallError as exn:
        notes.append(f"could not list access points of {fs_id}: {exn}")
        return None
    notes.append(
        f"no access point of {fs_id} with root directory {efs_home} and uid {uid};"
        " create one or set [aws] fsap"
    )
    return None


def _find_task_queue(clients: AwsClients, fs_id: str, notes: List[str]) -> Optional[str]:
    """An ENABLED, VALID job queue tagged ``MiniwdlStudioEfsId = fs_id``; among several, one
    named ``default-*`` is preferred (as the Studio recipe names its queue)."""
    try:
        queues = BatchApi(clients).all_job_queues()
    except AwsCallError as exn:
        notes.append(f"could not list job queues: {exn}")
        return None
    found = [
        str(q["jobQueueName"])
        for q in queues
        if q.get("state") == "ENABLED"
        and q.get("status") == "VALID"
        and (q.get("tags") or {}).get(STUDIO_QUEUE_TAG) == fs_id
    ]
    if not found:
        notes.append(
            f"no ENABLED job queue tagged {STUDIO_QUEUE_TAG}={fs_id}; set [aws] task_queue"
        )
        return None
    preferred = [q for q in found if q.startswith("default-")]
    return sorted(preferred or found)[0]


@dataclasses.dataclass(frozen=True)
class StudioSettings:
    """The EFS and queue settings to use inside SageMaker Studio, explicit ones kept."""

    fs_id: str
    fsap: str
    task_queue: str
    uid: str
    detection: StudioDetection


def studio_settings(
    clients: AwsClients,
    logger: Optional[logging.Logger],
    fs_id: str = "",
    fsap: str = "",
    task_queue: str = "",
    file_io_root: str = "",
    metadata_file: str = STUDIO_METADATA_FILE,
    home: Optional[str] = None,
) -> Optional[StudioSettings]:
    """Complete the backend's settings inside SageMaker Studio; None when not inside Studio.

    :param fs_id: configured ``[aws] fs`` (kept; must be the Studio home EFS)
    :param fsap: configured ``[aws] fsap`` (kept; else the detected access point)
    :param task_queue: configured ``[aws] task_queue`` (kept; else the detected queue)
    :param file_io_root: ``[file_io] root``, which must be the Studio home mount or beneath it
    :raises ConfigError: a conflict, or something needed that was neither set nor found
    """
    found = detect_studio(clients, logger, metadata_file=metadata_file, home=home)
    if found is None:
        return None
    if fs_id and fs_id != found.fs_id:
        raise ConfigError(
            f"[aws] fs {fs_id} is not the SageMaker Studio home EFS {found.fs_id}"
            " (unset it inside Studio)"
        )
    if file_io_root:
        problem = found.root_problem(file_io_root)
        if problem:
            raise ConfigError(problem)
    chosen_fsap = fsap or found.fsap
    if not chosen_fsap:
        raise ConfigError(
            f"inside SageMaker Studio but no access point of {found.fs_id} has root directory"
            f" {found.efs_home} and uid {found.uid}; create one or set [aws] fsap"
        )
    chosen_queue = task_queue or found.task_queue
    if not chosen_queue:
        raise ConfigError(
            f"inside SageMaker Studio but no job queue is tagged {STUDIO_QUEUE_TAG}="
            f"{found.fs_id}; tag one or set [aws] task_queue"
        )
    return StudioSettings(found.fs_id, chosen_fsap, chosen_queue, found.uid, found)
