"""miniwdl-aws.cfg, the code's option registry and the README agree."""

from __future__ import annotations

import configparser
import logging
import re
from pathlib import Path

from WDL.runtime.config import Loader

from miniwdl_aws.config import OPTIONS, OPTIONS_BY_NAME

ROOT = Path(__file__).resolve().parent.parent
CFG = ROOT / "miniwdl-aws.cfg"


def _cfg_aws() -> dict:
    parser = configparser.ConfigParser()
    parser.read(CFG)
    return dict(parser["aws"])


def test_cfg_loads_with_miniwdl_loader(monkeypatch) -> None:
    for k in list(__import__("os").environ):
        if k.startswith("MINIWDL"):
            monkeypatch.delenv(k)
    cfg = Loader(logging.getLogger("test"), [str(CFG)])
    assert cfg["scheduler"]["container_backend"] == "aws_batch_job"
    assert cfg["file_io"]["root"] == "/mnt/efs"
    assert cfg.get_dict("task_runtime", "defaults")["docker"]
    assert cfg.get_bool("call_cache", "get") and cfg["call_cache"]["dir"].startswith("/mnt/efs/")


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
