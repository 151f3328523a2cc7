"""Shipping the WDL (+imports) and inputs: zip, validation, inline vs staged vs error."""

from __future__ import annotations

import json
import zipfile
from io import BytesIO
from typing import Any, Dict, List

import pytest

from miniwdl_aws.errors import ConfigError
from miniwdl_aws.submit import shipping

MAIN = """version 1.0
import "lib/greet.wdl" as lib
workflow main {
    call lib.greet { input: who = "you" }
    output { String out = greet.msg }
}
"""
LIB = """version 1.0
task greet {
    input { String who }
    command <<< echo hi >>>
    output { String msg = "hi ~{who}" }
}
"""


def _write(tmp_path: Any) -> str:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "greet.wdl").write_text(LIB)
    (tmp_path / "main.wdl").write_text(MAIN)
    return str(tmp_path / "main.wdl")


def test_zip_carries_imports_and_round_trips(tmp_path: Any) -> None:
    data = shipping.load_and_zip(_write(tmp_path), [])
    names = zipfile.ZipFile(BytesIO(data)).namelist()
    assert "main.wdl" in names and "lib/greet.wdl" in names and "MANIFEST.json" in names
    assert shipping.decode(shipping.encode(data)) == data
    assert len(shipping.encode(data)) < len(data)  # compression pays even for tiny zips


@pytest.mark.parametrize(
    "text, match",
    [
        ("version 1.0\nworkflow w { call nosuch }\n", "invalid WDL"),
        ("version 1.0\nworkflow w {\n", "invalid WDL"),
        ('version 1.0\nimport "missing.wdl"\nworkflow w {}\n', "invalid WDL"),
    ],
)
def test_invalid_wdl_is_one_config_error(tmp_path: Any, text: str, match: str) -> None:
    f = tmp_path / "bad.wdl"
    f.write_text(text)
    with pytest.raises(ConfigError, match=match) as info:
        shipping.load_and_zip(str(f), [])
    assert "\n" not in str(info.value)


def test_inputs_must_be_a_json_object(tmp_path: Any) -> None:
    good = tmp_path / "in.json"
    good.write_text('{"a": 1}')
    assert json.loads(shipping.read_inputs(str(good))) == {"a": 1}
    for text in ("[1]", "{nope"):
        good.write_text(text)
        with pytest.raises(ConfigError):
            shipping.read_inputs(str(good))
    with pytest.raises(ConfigError, match="cannot read"):
        shipping.read_inputs(str(tmp_path / "missing.json"))


def test_plan_inline_when_it_fits() -> None:
    puts: List[str] = []
    s = shipping.plan(
        {"wdl": b"z" * 100}, lambda env: True, "s3://b/f/", lambda d, u: puts.append(u)
    )
    assert s.wrapper_args == ["--wdl-zip", "env:" + shipping.ENV_WDL_ZIP] and not puts
    assert shipping.decode(s.env[shipping.ENV_WDL_ZIP]) == b"z" * 100


def test_plan_stages_when_too_big_and_a_location_exists() -> None:
    puts: Dict[str, bytes] = {}
    s = shipping.plan(
        {"wdl": b"w", "inputs": b"{}"},
        lambda env: False,
        "s3://b/f/",
        lambda d, u: puts.__setitem__(u, d),
    )
    assert puts == {"s3://b/f/source.zip": b"w", "s3://b/f/inputs.json": b"{}"}
    assert s.env == {} and s.wrapper_args == [
        "--wdl-zip",
        "s3://b/f/source.zip",
        "--inputs",
        "s3://b/f/inputs.json",
    ]


def test_plan_errors_when_too_big_and_nowhere_to_stage() -> None:
    with pytest.raises(ConfigError, match="too large"):
        shipping.plan({"wdl": b"w"}, lambda env: False, None, lambda d, u: None)


def test_materialize(tmp_path: Any) -> None:
    dest = str(tmp_path / "x")
    env = {"V": shipping.encode(b"payload")}
    assert (
        open(shipping.materialize("env:V", dest, env, lambda u, d: None), "rb").read() == b"payload"
    )
    got: List[str] = []
    shipping.materialize("s3://b/k", dest, {}, lambda u, d: got.append(u))
    assert got == ["s3://b/k"]
    for bad in ("env:MISSING", "ftp://x"):
        with pytest.raises(ConfigError):
            shipping.materialize(bad, dest, {}, lambda u, d: None)
    with pytest.raises(ConfigError, match="corrupt"):
        shipping.materialize("env:V", dest, {"V": "not-base64!"}, lambda u, d: None)
