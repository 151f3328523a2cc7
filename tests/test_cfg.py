"""miniwdl-aws.cfg, the code's option registry and the README agree."""

from __future__ import annotations

import configparser
import logging
import os
import re
from pathlib import Path

from WDL.runtime.cache import CallCache
from WDL.runtime.config import Loader

from miniwdl_aws.config import OPTIONS, OPTIONS_BY_NAME

ROOT = Path(__file__).resolve().parent.parent
CFG = ROOT / "miniwdl-aws.cfg"


def _cfg_aws() -> dict:
    parser = configparser.ConfigParser()
    parser.read(CFG)
    return dict(parser["aws"])


def _clean_env(monkeypatch) -> None:
    for k in list(os.environ):
        if k.startswith("MINIWDL"):
            monkeypatch.delenv(k)


def test_cfg_loads_with_miniwdl_loader(monkeypatch) -> None:
    _clean_env(monkeypatch)
    cfg = Loader(logging.getLogger("test"), [str(CFG)])
    assert cfg["scheduler"]["container_backend"] == "aws_batch_job"
    assert cfg["file_io"]["root"] == "/mnt/efs"
    assert cfg.get_dict("task_runtime", "defaults")["docker"]
    assert cfg.get_bool("call_cache", "get")


def test_cache_dirs_follow_the_mount(monkeypatch, tmp_path: Path) -> None:
    """With ``--no-efs``/``--mount`` the submitter sets MINIWDL__FILE_IO__ROOT; both caches must
    land under it (miniwdl's own CallCache resolves them), never on the job's ephemeral disk."""
    _clean_env(monkeypatch)
    for section in ("call_cache", "download_cache"):
        assert not os.path.isabs(Loader(logging.getLogger("t"), [str(CFG)])[section]["dir"])
    other = tmp_path / "other"
    other.mkdir()
    monkeypatch.setenv("MINIWDL__FILE_IO__ROOT", str(other))
    monkeypatch.setenv("MINIWDL__DOWNLOAD_CACHE__PUT", "true")  # so CallCache creates both dirs
    cfg = Loader(logging.getLogger("test"), [str(CFG)])
    assert cfg["file_io"]["root"] == str(other)
    with CallCache(cfg, logging.getLogger("test")):
        pass
    assert (other / "miniwdl_run" / "_CACHE" / "call").is_dir()
    assert (other / "miniwdl_run" / "_CACHE" / "download" / "_miniwdl_flock").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other"]


def test_download_cache_is_safe_on_efs(monkeypatch) -> None:
    """No flock per cached download (EFS: at most 256 file/process lock pairs per client), and
    no caching by default (entries are keyed by URI and never revalidated against S3)."""
    _clean_env(monkeypatch)
    cfg = Loader(logging.getLogger("test"), [str(CFG)])
    assert cfg.has_option("download_cache", "flock")  # an option miniwdl itself knows
    assert cfg.get_bool("download_cache", "flock") is False
    assert cfg.get_bool("download_cache", "put") is False
    assert cfg.get_bool("download_cache", "get") is True
    # the reasons stay next to the settings
    section = CFG.read_text().split("[download_cache]", 1)[1].split("\n[", 1)[0]
    assert "256" in section and "revalidate" in section


def test_every_cfg_key_is_known_to_the_code() -> None:
    unknown = set(_cfg_aws()) - set(OPTIONS_BY_NAME)
    assert not unknown, f"[aws] keys in miniwdl-aws.cfg the code doesn't read: {unknown}"


def test_every_code_option_is_documented_in_cfg_with_same_default() -> None:
    aws = _cfg_aws()
    text = CFG.read_text()
    for opt in OPTIONS:
        assert opt.name in aws, f"{opt.name} missing from miniwdl-aws.cfg"
        assert aws[opt.name] == opt.default_text(), (opt.name, aws[opt.name], opt.default_text())
        # a comment paragraph directly above the key
        assert re.search(rf"#[^\n]*\n{re.escape(opt.name)} =", text), opt.name


def test_readme_documents_every_option_with_default() -> None:
    readme = (ROOT / "README.md").read_text()
    rows = dict(re.findall(r"^\| `([a-z0-9_]+)` \| `([^`]*)` \|", readme, re.M))
    for opt in OPTIONS:
        assert opt.name in rows, f"README configuration table lacks {opt.name}"
        assert rows[opt.name] == (opt.default_text() or '""'), (opt.name, rows[opt.name])
    assert set(rows) <= set(OPTIONS_BY_NAME), set(rows) - set(OPTIONS_BY_NAME)
