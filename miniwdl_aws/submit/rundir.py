"""The run's own directory on the shared filesystem: the one thing ``--delete-after`` removes.

``--delete-after`` must never remove data that is not the run's: not a directory that existed
before the run (``--dir X/.`` is miniwdl's "run exactly in X" form, and X may hold the user's
files), not the ``--dir`` root (which holds earlier runs), not the mount, nothing reached through a
symlink. Path strings cannot prove that, so the wrapper records facts when it creates the
directory and checks them again before deleting:

- it creates the directory itself with ``mkdir`` (which fails if anything is already there), so
  the directory is new; for ``--dir DIR`` that is ``DIR/<run id>/`` and miniwdl then makes its
  usual timestamped run directory inside it; for ``--dir X/.`` it is X, only if X did not exist;
- it writes a marker file naming the run id into it and remembers the directory's device and
  inode numbers;
- before deleting, the path must still be that same directory (``lstat``: not a symlink, same
  device and inode), hold the marker with this run's id, lie strictly inside the mount, and
  contain the run directory miniwdl reported.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import time
from dataclasses import dataclass
from typing import Optional, Tuple

from miniwdl_aws.errors import ConfigError

MARKER = ".miniwdl-aws-run.json"


def exact_form(dir_arg: str) -> bool:
    """Whether ``dir_arg`` is miniwdl's "run exactly here" form (``X/.``)."""
    return dir_arg in (".", "./") or dir_arg.endswith(("/.", "/./"))


def home_path(dir_arg: str, run_id: str) -> Tuple[str, bool]:
    """``(the run's own directory, exact form?)`` for the submitter's ``--dir``."""
    if exact_form(dir_arg):
        return os.path.normpath(os.path.abspath(dir_arg)), True
    return os.path.join(os.path.normpath(os.path.abspath(dir_arg)), run_id), False


def refuse_existing(dir_arg: str, path: str) -> ConfigError:
    """The one-line refusal of ``--delete-after`` into a directory that already exists."""
    return ConfigError(
        f"--delete-after with --dir {dir_arg}: {path} already exists, and --delete-after deletes"
        " only a directory the run itself creates; name a new directory, or drop the trailing"
        " /. to run in a new <dir>/<run id>/"
    )


@dataclass(frozen=True)
class RunHome:
    """The run's own directory, and what was recorded when it was made."""

    path: str
    run_id: str
    exact: bool
    created: bool  # made by this run (and so deletable); False: it existed before
    dev: int = -1
    ino: int = -1

    @property
    def miniwdl_dir(self) -> str:
        """``miniwdl run --dir`` for this home."""
        return self.path + ("/." if self.exact else "/")


def provision(dir_arg: str, mount: str, run_id: str, deletable: bool) -> RunHome:
    """Create the run's own directory (see the module docstring).

    :param deletable: ``--delete-after`` is set: refuse a directory this run would not create
    :raises ConfigError: the directory cannot be made the run's own
    """
    path, exact = home_path(dir_arg, run_id)
    _check_inside(path, mount)
    if exact and os.path.lexists(path):
        if deletable:
            raise refuse_existing(dir_arg, path)
        return RunHome(path, run_id, exact, created=False)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    try:
        os.mkdir(path)
    except FileExistsError:  # made by someone else since the check: it is not ours
        if deletable or not exact:
            raise refuse_existing(dir_arg, path) from None
        return RunHome(path, run_id, exact, created=False)
    with open(os.path.join(path, MARKER), "x") as f:
        json.dump({"run_id": run_id, "created": time.time()}, f)
    st = os.lstat(path)
    return RunHome(path, run_id, exact, created=True, dev=st.st_dev, ino=st.st_ino)


def delete(home: RunHome, run_dir: Optional[str], mount: str) -> None:
    """Remove ``home`` if every recorded fact still holds; raises ConfigError otherwise."""
    what = f"refusing to delete {home.path}"
    if not home.created:
        raise ConfigError(f"{what}: it existed before the run started")
    try:
        st = os.lstat(home.path)
    except FileNotFoundError:
        raise ConfigError(f"{what}: it is gone already") from None
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise ConfigError(f"{what}: it is no longer a directory (a symlink or file took its place)")
    if (st.st_dev, st.st_ino) != (home.dev, home.ino):
        raise ConfigError(f"{what}: it is not the directory the run created")
    try:
        with open(os.path.join(home.path, MARKER)) as f:
            owner = json.load(f).get("run_id")
    except (OSError, ValueError, AttributeError):
        owner = None
    if owner != home.run_id:
        raise ConfigError(f"{what}: its marker {MARKER} does not name run {home.run_id}")
    _check_inside(home.path, mount)
    if run_dir and not _within(os.path.realpath(run_dir), os.path.realpath(home.path)):
        raise ConfigError(f"{what}: miniwdl's run directory {run_dir} is not inside it")
    shutil.rmtree(home.path)  # never follows symlinks inside (it unlinks them)


def cleanup_unused(home: Optional[RunHome]) -> None:
    """Remove ``home`` if the run created it and never used it (only the marker is in it)."""
    if home is None or not home.created:
        return
    try:
        if os.listdir(home.path) == [MARKER]:
            os.unlink(os.path.join(home.path, MARKER))
            os.rmdir(home.path)
    except OSError:
        pass


def _within(path: str, top: str) -> bool:
    return path == top or path.startswith(top.rstrip("/") + "/")


def _check_inside(path: str, mount: str) -> None:
    """``path`` (its real location, parents resolved) lies strictly inside the mount."""
    real_mount = os.path.realpath(mount) if mount else ""
    if real_mount in ("", "/"):
        raise ConfigError(
            f"the shared filesystem root is {mount or 'unset'}: set MINIWDL__FILE_IO__ROOT to the"
            " mount (e.g. /mnt/efs) so the run directory can be checked"
        )
    real = os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path))
    if real == real_mount or not _within(real, real_mount):
        raise ConfigError(f"the run directory {path} must lie strictly inside the mount {mount}")
