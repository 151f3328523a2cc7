"""SageMaker Studio detection: the user's home EFS, uid, a matching access point and task queue.

Inside a SageMaker Studio app, ``/opt/ml/metadata/resource-metadata.json`` names the domain and
user profile. The domain's ``HomeEfsFileSystemId`` is the domain's EFS, and the user profile's
``HomeEfsFileSystemUid`` is the POSIX uid that owns the user's directory ``/<uid>`` on it. Task
jobs can share the user's files by mounting an access point of that file system whose root
directory is ``/<uid>`` and whose POSIX user is that uid; the task queue is a job queue tagged
``MiniwdlStudioEfsId = <file system id>`` (the convention of miniwdl-aws 0.12.2 and its Studio
recipe).

Where that directory is visible *here* depends on the kind of Studio:

- **Studio Classic** mounts it (over NFS) at ``$HOME``;
- **Studio** (JupyterLab and Code Editor spaces) keeps ``$HOME`` on the space's EBS volume
  (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_EbsStorageSettings.html) and,
  with EFS auto-mounting on, mounts the user's EFS folder at ``$HOME/user-default-efs`` through an
  access point rooted at ``/<uid>`` acting as that uid
  (https://docs.aws.amazon.com/sagemaker/latest/dg/studio-updated-automount.html).

So the mount is found from ``/proc/mounts``: ``$HOME`` if it is on NFS, else the auto-mount if it
is on NFS, else none, which is a :class:`~miniwdl_aws.errors.ConfigError` for the backend (task
jobs would write where the runner cannot read) unless ``[aws] fsap`` and a ``[file_io] root`` on
an NFS mount are both set explicitly.

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
import re
from typing import Any, Dict, List, Optional, Tuple

from ._util import _
from .aws.batch import BatchApi
from .aws.clients import AwsClients
from .aws.efs import EfsApi
from .aws.sagemaker import SageMakerApi
from .errors import AwsCallError, ConfigError

__all__ = [
    "EFS_AUTOMOUNT_DIR",
    "PROC_MOUNTS",
    "STUDIO_METADATA_FILE",
    "STUDIO_QUEUE_TAG",
    "StudioDetection",
    "StudioSettings",
    "detect_studio",
    "studio_settings",
]

STUDIO_METADATA_FILE = "/opt/ml/metadata/resource-metadata.json"
PROC_MOUNTS = "/proc/mounts"
# where Studio (not Classic) auto-mounts the user's EFS folder, under $HOME
EFS_AUTOMOUNT_DIR = "user-default-efs"
# app types of Studio spaces, whose $HOME is on EBS (Studio Classic's are JupyterServer and
# KernelGateway)
_SPACE_APP_TYPES = ("JupyterLab", "CodeEditor")
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
    # why no path here shows efs_home ($HOME on the EBS of a Studio space, no EFS auto-mount);
    # mount is then ""
    mount_problem: Optional[str] = None

    def describe(self) -> str:
        """One line saying what was detected, for logs and ``doctor``."""
        parts = [
            f"SageMaker Studio domain {self.domain_id} user {self.user_profile}:",
            f"home EFS {self.fs_id} directory {self.efs_home} (uid {self.uid}) mounted at"
            f" {self.mount or 'NO PATH HERE'};",
            f"access point {self.fsap or 'NOT FOUND'};",
            f"task queue {self.task_queue or 'NOT FOUND'}",
        ]
        return " ".join(parts)

    def root_problem(self, file_io_root: str) -> Optional[str]:
        """Why ``[file_io] root`` cannot work with the Studio mount (it must be the Studio home
        mount or beneath it, so that paths mean the same in Studio and in task jobs), or None."""
        if self.mount_problem:
            return self.mount_problem
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


def _mount_of(path: str, mounts_file: str) -> Optional[Tuple[str, str]]:
    """``(mount point, filesystem type)`` of the mount holding ``path`` (the longest mount point
    containing it, per ``/proc/mounts``), or None when the mount table cannot be read."""
    try:
        with open(mounts_file) as infile:
            table = [line.split() for line in infile]
    except OSError:
        return None
    target = os.path.realpath(path)
    best: Optional[Tuple[str, str]] = None
    for fields in table:
        if len(fields) < 3:
            continue
        # /proc/mounts writes a space in a path as \040 (octal escapes)
        point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[1])
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) >= len(best[0])):
            best = (point, fields[2])
    return best


def _is_nfs(mount: Optional[Tuple[str, str]]) -> bool:
    return mount is not None and mount[1].startswith("nfs")  # EFS is NFSv4


def _locate_efs_home(
    meta: Dict[str, Any], fs_id: str, uid: str, home: str, mounts_file: str
) -> Tuple[str, Optional[str]]:
    """Where the user's EFS directory ``/<uid>`` is mounted here: ``(path, None)``, or
    ``("", why not)`` (see the module docstring)."""
    app_type = str(meta.get("AppType") or "")
    home_mount = _mount_of(home, mounts_file)
    if home_mount is None:  # no mount table (not Linux?): go by the app type
        if app_type not in _SPACE_APP_TYPES:
            return home, None
    elif _is_nfs(home_mount):  # Studio Classic
        return home, None
    automount = os.path.join(home, EFS_AUTOMOUNT_DIR)
    found = _mount_of(automount, mounts_file)
    if _is_nfs(found) and found is not None and found[0] == os.path.realpath(automount):
        return automount, None
    space = " ".join(str(x) for x in (app_type, "space", meta.get("SpaceName")) if x)
    disk = f"its {home_mount[1]} volume" if home_mount else "its EBS volume"
    return "", (
        f"inside a SageMaker Studio {space}, $HOME ({home}) is on {disk}, not on the domain's"
        f" EFS {fs_id}, and Studio's EFS auto-mount {automount} is absent, so task jobs would"
        f" write files this runner cannot see: mount an access point of {fs_id} (root directory"
        f" /{uid}) yourself, set [aws] fsap to it and [file_io] root to where it is mounted"
    )


def _read_domain(
    clients: AwsClients, meta: Dict[str, Any], logger: Optional[logging.Logger], where: str
) -> Optional[Tuple[str, str]]:
    """``(home EFS id, user's uid)`` from the SageMaker API, or None (a warning) on failure."""
    domain_id, user = str(meta["DomainId"]), str(meta["UserProfileName"])
    try:
        sagemaker = SageMakerApi(clients)
        return sagemaker.home_efs(domain_id), sagemaker.home_uid(domain_id, user)
    except AwsCallError as exn:
        if logger:
            logger.warning(
                _(
                    "found SageMaker Studio metadata but could not read the domain",
                    metadata=where,
                    domain=domain_id,
                    user=user,
                    error=str(exn),
                )
            )
        return None


def detect_studio(
    clients: AwsClients,
    logger: Optional[logging.Logger] = None,
    metadata_file: str = STUDIO_METADATA_FILE,
    home: Optional[str] = None,
    mounts_file: str = PROC_MOUNTS,
) -> Optional[StudioDetection]:
    """Detect SageMaker Studio; None when not inside Studio or when the domain cannot be read
    (logged as a warning, with the reason).

    :param clients: shared clients (``sagemaker``, ``efs``, ``batch`` are used)
    :param metadata_file: Studio's resource metadata file (injectable for tests)
    :param home: the user's home directory (default ``$HOME``)
    :param mounts_file: the mount table (injectable for tests)
    """
    meta = _read_metadata(metadata_file)
    if meta is None:
        return None
    domain = _read_domain(clients, meta, logger, metadata_file)
    if domain is None:
        return None
    fs_id, uid = domain
    home = home if home is not None else os.environ.get("HOME", "/root")
    mount, problem = _locate_efs_home(meta, fs_id, uid, home, mounts_file)
    notes: List[str] = [problem] if problem else []
    found = StudioDetection(
        domain_id=str(meta["DomainId"]),
        user_profile=str(meta["UserProfileName"]),
        fs_id=fs_id,
        uid=uid,
        efs_home=f"/{uid}",
        mount=mount,
        fsap=_find_access_point(clients, fs_id, uid, f"/{uid}", notes),
        task_queue=_find_task_queue(clients, fs_id, notes),
        notes=notes,
        mount_problem=problem,
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


def _mounted_explicitly(
    fsap: str, file_io_root: str, mounts_file: str, logger: Optional[logging.Logger]
) -> bool:
    """Whether, in a Studio space without Studio's EFS mount, ``[aws] fsap`` is set and
    ``[file_io] root`` is on an NFS mount: then these settings are used as outside Studio."""
    if not (fsap and file_io_root and _is_nfs(_mount_of(file_io_root, mounts_file))):
        return False
    if logger:
        msg = _("inside SageMaker Studio, using the EFS mounted explicitly", fsap=fsap)
        logger.notice(msg)  # type: ignore[attr-defined]
    return True


def studio_settings(
    clients: AwsClients,
    logger: Optional[logging.Logger],
    fs_id: str = "",
    fsap: str = "",
    task_queue: str = "",
    file_io_root: str = "",
    metadata_file: str = STUDIO_METADATA_FILE,
    home: Optional[str] = None,
    mounts_file: str = PROC_MOUNTS,
) -> Optional[StudioSettings]:
    """Complete the backend's settings inside SageMaker Studio; None when not inside Studio, or
    inside a Studio space without the EFS mounted by Studio but with ``fsap`` and a
    ``file_io_root`` on NFS set explicitly (then they are used as outside Studio).

    :param fs_id: configured ``[aws] fs`` (kept; must be the Studio home EFS)
    :param fsap: configured ``[aws] fsap`` (kept; else the detected access point)
    :param task_queue: configured ``[aws] task_queue`` (kept; else the detected queue)
    :param file_io_root: ``[file_io] root``, which must be the Studio EFS mount or beneath it
    :raises ConfigError: a conflict, or something needed that was neither set nor found
    """
    found = detect_studio(clients, logger, metadata_file, home, mounts_file)
    if found is None:
        return None
    if found.mount_problem:
        if _mounted_explicitly(fsap, file_io_root, mounts_file, logger):
            return None
        raise ConfigError(found.mount_problem)
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
