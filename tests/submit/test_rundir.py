"""The run's own directory: what --delete-after may remove, decided from facts recorded at start."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from miniwdl_aws.errors import ConfigError
from miniwdl_aws.submit import rundir

RUN = "mw261129T010203-abcdef"


@pytest.fixture
def mount(tmp_path: Path) -> Path:
    m = tmp_path / "efs"
    (m / "miniwdl_run" / "20250101_000000_earlier" / "out").mkdir(parents=True)
    (m / "miniwdl_run" / "20250101_000000_earlier" / "out" / "result.txt").write_text("keep")
    return m


def test_prefix_form_creates_a_new_directory_per_run(mount: Path) -> None:
    home = rundir.provision(str(mount / "miniwdl_run"), str(mount), RUN, deletable=True)
    assert home.path == str(mount / "miniwdl_run" / RUN) and home.created
    assert home.miniwdl_dir == home.path + "/"  # miniwdl makes its timestamped dir inside
    assert json.loads((Path(home.path) / rundir.MARKER).read_text())["run_id"] == RUN
    with pytest.raises(ConfigError, match="already exists"):  # never shared by two runs
        rundir.provision(str(mount / "miniwdl_run"), str(mount), RUN, deletable=False)
    run_dir = Path(home.path) / "20261129_010203_wf"
    (run_dir / "out").mkdir(parents=True)
    rundir.delete(home, str(run_dir), str(mount))
    assert not os.path.exists(home.path)
    assert (mount / "miniwdl_run" / "20250101_000000_earlier" / "out" / "result.txt").exists()


@pytest.mark.parametrize("existing", ["sandbox", "miniwdl_run"])
def test_exact_form_into_an_existing_directory_refuses_delete_after(
    mount: Path, existing: str
) -> None:
    (mount / "sandbox").mkdir()
    (mount / "sandbox" / "mine.txt").write_text("user data")
    dir_arg = str(mount / existing) + "/."
    with pytest.raises(ConfigError, match="already exists"):
        rundir.provision(dir_arg, str(mount), RUN, deletable=True)
    # without --delete-after the user may run there; nothing of it is ever deletable
    home = rundir.provision(dir_arg, str(mount), RUN, deletable=False)
    assert not home.created and home.miniwdl_dir.endswith("/.")
    with pytest.raises(ConfigError, match="existed before"):
        rundir.delete(home, None, str(mount))
    assert (mount / "sandbox" / "mine.txt").read_text() == "user data"


def test_exact_form_into_a_new_directory_is_the_runs_own(mount: Path) -> None:
    home = rundir.provision(str(mount / "new" / "here") + "/.", str(mount), RUN, deletable=True)
    assert home.created and home.path == str(mount / "new" / "here")
    rundir.delete(home, home.path, str(mount))
    assert not (mount / "new" / "here").exists() and (mount / "new").is_dir()


def test_delete_checks_the_recorded_facts(mount: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("x")
    # replaced by a symlink after the run started: not followed, nothing deleted
    home = rundir.provision(str(mount / "miniwdl_run"), str(mount), RUN, deletable=True)
    os.rename(home.path, home.path + ".moved")
    os.symlink(outside, home.path)
    with pytest.raises(ConfigError, match="no longer a directory"):
        rundir.delete(home, None, str(mount))
    os.unlink(home.path)
    # replaced by another directory (other inode), even with a copied marker
    os.mkdir(home.path)
    (Path(home.path) / rundir.MARKER).write_text(json.dumps({"run_id": RUN}))
    with pytest.raises(ConfigError, match="not the directory the run created"):
        rundir.delete(home, None, str(mount))
    os.unlink(Path(home.path) / rundir.MARKER)
    os.rmdir(home.path)
    os.rename(home.path + ".moved", home.path)
    # marker of another run
    (Path(home.path) / rundir.MARKER).write_text(json.dumps({"run_id": "mw000000T000000-000000"}))
    with pytest.raises(ConfigError, match="marker"):
        rundir.delete(home, None, str(mount))
    (Path(home.path) / rundir.MARKER).write_text(json.dumps({"run_id": RUN}))
    # miniwdl reported a run directory elsewhere
    with pytest.raises(ConfigError, match="not inside it"):
        rundir.delete(home, str(mount / "miniwdl_run"), str(mount))
    # a symlink inside is removed, its target kept
    os.symlink(outside, Path(home.path) / "link")
    rundir.delete(home, None, str(mount))
    assert not os.path.lexists(home.path) and (outside / "keep.txt").exists()


@pytest.mark.parametrize("where", ["mount", "outside", "root"])
def test_the_run_directory_must_lie_strictly_inside_the_mount(
    mount: Path, tmp_path: Path, where: str
) -> None:
    dir_arg, root = {
        "mount": (str(mount) + "/.", str(mount)),
        "outside": (str(tmp_path / "elsewhere"), str(mount)),
        "root": (str(mount / "x"), "/"),
    }[where]
    with pytest.raises(ConfigError):
        rundir.provision(dir_arg, root, RUN, deletable=False)


def test_a_symlinked_parent_cannot_lead_outside(mount: Path, tmp_path: Path) -> None:
    (tmp_path / "outside").mkdir()
    os.symlink(tmp_path / "outside", mount / "escape")
    with pytest.raises(ConfigError, match="strictly inside"):
        rundir.provision(str(mount / "escape"), str(mount), RUN, deletable=True)


def test_unused_home_is_removed(mount: Path) -> None:
    home = rundir.provision(str(mount / "miniwdl_run"), str(mount), RUN, deletable=False)
    rundir.cleanup_unused(home)
    assert not os.path.exists(home.path)
