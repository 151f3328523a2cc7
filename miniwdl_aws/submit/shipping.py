"""Getting a local WDL (with its imports) and a local inputs JSON into the workflow job.

The laptop's files are not visible inside the job, so the submitter packs the WDL and every
import with miniwdl's own zip support (``WDL.Zip.build``), compresses it, and ships it either

- *inline*, in an environment variable of the job's container overrides, when the whole
  overrides object fits Batch's 8,192-character limit (and the request its 30 KiB limit), or
- *staged* in S3 (verified upload), when an S3 location is configured,

and fails with a clear message before submitting otherwise. The wrapper inside the job turns the
payload back into files (:func:`materialize`).
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import logging
import lzma
import os
import tempfile
from dataclasses import dataclass
from importlib import resources
from typing import Any, Callable, Dict, List, Optional

from miniwdl_aws.errors import ConfigError
from miniwdl_aws.submit.request import PassThrough

# Env vars that carry inline payloads into the job; the wrapper's --wdl-zip/--inputs name them.
ENV_WDL_ZIP = "MINIWDL_AWS_WDL_ZIP"
ENV_INPUTS = "MINIWDL_AWS_INPUTS"

# Batch limits: containerOverrides ≤ 8,192 characters; SubmitJob request ≤ 30 KiB.
OVERRIDES_LIMIT = 8192
REQUEST_LIMIT = 30 * 1024
# Batch counts what it adds itself (AWS_BATCH_* variables, resource requirements...) toward the
# 8,192, and fails the job only after accepting it: ship inline only within this budget.
OVERRIDES_BUDGET = OVERRIDES_LIMIT - 1536

SELF_TEST_INPUTS = {"self_test.names": ["Alyssa", "Ben", "Cy"]}


@dataclass(frozen=True)
class LocalSources:
    """The run's WDL and inputs as the submitter found them.

    :param files: what to ship (keys ``wdl``: the zip of the WDL and its imports, ``inputs``: the
        ``-i`` JSON), each validated with miniwdl
    :param wdl_arg: the wrapper's ``--wdl``, for a WDL the job can open itself (a URL, or a path
        on the shared filesystem); None when the WDL is shipped
    """

    files: Dict[str, bytes]
    wdl_arg: Optional[str]


def local_sources(pt: PassThrough, mount: str, self_test: bool) -> LocalSources:
    """Load, check and pack the WDL (and its inputs) named by ``pt``; the built-in self-test
    workflow with ``self_test``. A WDL under ``mount`` is checked but not shipped: the job sees it
    at the same path. Raises ConfigError."""
    if self_test:
        src = resources.files("miniwdl_aws").joinpath("self_test.wdl")
        with resources.as_file(src) as self_test_wdl:
            wdl = load_and_zip(str(self_test_wdl), [])
        return LocalSources({"wdl": wdl, "inputs": json.dumps(SELF_TEST_INPUTS).encode()}, None)
    assert pt.uri
    files: Dict[str, bytes] = {}
    if pt.input_file:  # first: its own errors are clearer than the input check's
        files["inputs"] = read_inputs(pt.input_file)
    check_quant = "--no-quant-check" not in pt.rest

    def check_doc(doc: Any) -> None:
        check_inputs(
            doc, list(pt.inputs), pt.input_arg, list(pt.empty), list(pt.none), pt.task, mount
        )

    if "://" in pt.uri and not pt.uri.startswith("file://"):
        return LocalSources(files, pt.uri)  # fetched by miniwdl inside the job
    path = pt.uri[len("file://") :] if pt.uri.startswith("file://") else pt.uri
    real = os.path.realpath(path)
    if not os.path.isfile(real):
        raise ConfigError(f"WDL file not found or unreadable: {pt.uri}")
    if (real + "/").startswith(os.path.realpath(mount) + "/"):
        load_and_zip(real, list(pt.path), check_quant, check_doc)  # validates it
        return LocalSources(files, real)  # visible inside the job at the same path
    files["wdl"] = load_and_zip(path, list(pt.path), check_quant, check_doc)
    return LocalSources(files, None)


def load_and_zip(
    uri: str,
    path: List[str],
    check_quant: bool = True,
    check_doc: Optional[Callable[[Any], None]] = None,
) -> bytes:
    """Load and typecheck the WDL at ``uri`` with miniwdl (this is the local validation), then
    build the zip of it and its imports with ``WDL.Zip.build``. A ``.zip`` made by ``miniwdl
    zip`` is checked by loading its main WDL and shipped as is. ``check_doc`` is called with
    the loaded document (e.g. :func:`check_inputs`). Raises ConfigError."""
    import WDL
    import WDL.Zip

    logger = logging.getLogger("miniwdl-aws-submit.zip")
    try:
        if uri.endswith(".zip"):
            with WDL.Zip.unpack(uri) as unpacked:
                doc = WDL.load(unpacked.main_wdl, path=path, check_quant=check_quant)
                if check_doc is not None:
                    check_doc(doc)
            with open(uri, "rb") as f:
                return f.read()
        doc = WDL.load(uri, path=path, check_quant=check_quant)
        if check_doc is not None:
            check_doc(doc)
        with tempfile.TemporaryDirectory(prefix="miniwdl_aws_zip_") as tmp:
            archive = os.path.join(tmp, "source.zip")
            WDL.Zip.build(doc, archive, logger)
            with open(archive, "rb") as f:
                return f.read()
    except (WDL.Error.SyntaxError, WDL.Error.ValidationError, WDL.Error.ImportError) as exn:
        raise ConfigError(f"invalid WDL {uri}: {_one_line(exn)}") from None
    except WDL.Error.MultipleValidationErrors as exn:
        first = exn.exceptions[0] if exn.exceptions else exn
        raise ConfigError(
            f"invalid WDL {uri}: {len(exn.exceptions)} errors, first: {_one_line(first)}"
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(f"cannot read WDL {uri}: not UTF-8 text") from None
    except (OSError, WDL.Error.InputError) as exn:
        raise ConfigError(f"cannot read WDL {uri}: {_one_line(exn)}") from None


def check_inputs(
    doc: Any,
    inputs: List[str],
    input_arg: Optional[str],
    empty: List[str],
    none: List[str],
    task: Optional[str],
    mount: Optional[str] = None,
) -> None:
    """Check the run's inputs against ``doc`` as ``miniwdl run`` will: names, types and that
    every required input is given. File and Directory inputs (:func:`input_path_problem`): a
    URI passes, an absolute path must lie under ``mount`` (the job's ``[file_io] root``; miniwdl
    refuses any other), a relative path is refused (the job cannot see this machine's working
    directory). Whether the file exists is the job's to say: this machine may not see the
    shared filesystem. Raises ConfigError."""
    import WDL.CLI
    import WDL.Error

    def downloadable(path: str, directory: bool) -> bool:
        # miniwdl asks this of every File/Directory input value (command line and -i JSON);
        # True means "do not look for it here"
        problem = input_path_problem(path, directory, mount) if mount else None
        if problem:
            raise WDL.Error.InputError(problem)
        return True

    if input_arg is not None and input_arg.strip() == "-":
        return  # stdin is read inside the job
    try:
        # runner_input prints the workflow's input help on stderr before raising; the error
        # line we raise says what is wrong.
        with contextlib.redirect_stderr(io.StringIO()):
            WDL.CLI.runner_input(
                doc,
                inputs,
                input_arg,
                empty,
                none,
                task=task,
                downloadable=downloadable,
            )
    except WDL.Error.InputError as exn:
        raise ConfigError(f"inputs: {_one_line(exn)}") from None
    except Exception as exn:  # e.g. the -i file's YAML/JSON parser: one line, no traceback
        raise ConfigError(f"inputs: {_one_line(exn)}") from None


def input_path_problem(path: str, directory: bool, mount: str) -> Optional[str]:
    """Why the workflow job's miniwdl would refuse File/Directory input ``path``, else None."""
    what = "Directory" if directory else "File"
    if "://" in path:
        return None  # a URI: miniwdl downloads it in the job (or says it cannot)
    if not os.path.isabs(os.path.expanduser(path)):
        return (
            f"{what} input {path!r} is a relative path, meaningless inside the workflow job:"
            f" give its absolute path under the mount {mount}, or an s3:// or https:// URI"
        )
    real = os.path.normpath(os.path.expanduser(path))
    if not (real + "/").startswith(os.path.normpath(mount).rstrip("/") + "/"):
        return (
            f"{what} input {path} is outside the mount {mount}, which the workflow job cannot"
            " read: copy it under the mount, or give an s3:// or https:// URI"
        )
    return None


def _one_line(exn: BaseException) -> str:
    pos = getattr(exn, "pos", None)
    where = f" (line {pos.line}, column {pos.column})" if pos is not None else ""
    msg = str(exn).strip().splitlines()
    return (msg[0] if msg else type(exn).__name__) + where


def read_inputs(filename: str) -> bytes:
    """A local ``-i`` inputs file, checked to be a JSON object. Raises ConfigError."""
    try:
        with open(filename, "rb") as f:
            data = f.read()
        obj = json.loads(data)
    except OSError as exn:
        raise ConfigError(f"cannot read inputs {filename}: {exn.strerror}") from None
    except ValueError as exn:
        raise ConfigError(f"inputs {filename} is not valid JSON: {exn}") from None
    if not isinstance(obj, dict):
        raise ConfigError(f"inputs {filename} must hold a JSON object")
    return data


def encode(data: bytes) -> str:
    """Compact text form of ``data`` for an env var: lzma, then URL-safe base64."""
    packed = lzma.compress(data, preset=9 | lzma.PRESET_EXTREME)
    return base64.urlsafe_b64encode(packed).decode("ascii")


def decode(text: str) -> bytes:
    """Inverse of :func:`encode`."""
    return lzma.decompress(base64.urlsafe_b64decode(text.encode("ascii")))


@dataclass
class Shipment:
    """What the job gets: env vars (inline payloads) and the wrapper's source arguments."""

    env: Dict[str, str]
    wrapper_args: List[str]
    staged: List[str]  # S3 URIs written (staged mode)


def plan(
    files: Dict[str, bytes],
    fits: Callable[[Dict[str, str]], bool],
    stage_folder: Optional[str],
    put: Callable[[bytes, str], None],
) -> Shipment:
    """Decide inline vs staged for ``files`` (keys ``wdl``/``inputs``) and stage if needed.

    :param fits: whether a job whose overrides carry these extra env vars is within limits
    :param stage_folder: ``s3://bucket/prefix/`` for staging, or None
    :param put: verified upload of bytes to an S3 URI (called only in staged mode)
    """
    names = {"wdl": ("--wdl-zip", ENV_WDL_ZIP), "inputs": ("--inputs", ENV_INPUTS)}
    inline = Shipment(env={}, wrapper_args=[], staged=[])
    for key, data in files.items():
        flag, var = names[key]
        inline.env[var] = encode(data)
        inline.wrapper_args += [flag, "env:" + var]
    if not files or fits(inline.env):
        return inline
    size = sum(len(v) for v in inline.env.values())
    if not stage_folder:
        raise ConfigError(
            f"the WDL and inputs ({size} characters encoded) are too large to ship inside the Batch"
            f" job (container overrides ≤{OVERRIDES_LIMIT} characters); set --s3upload or --stage"
            " s3://bucket/folder/ to stage them in S3, or put them on the shared filesystem"
        )
    staged = Shipment(env={}, wrapper_args=[], staged=[])
    for key, data in files.items():
        flag, _var = names[key]
        uri = stage_folder + ("source.zip" if key == "wdl" else "inputs.json")
        put(data, uri)
        staged.staged.append(uri)
        staged.wrapper_args += [flag, uri]
    return staged


def materialize(
    source: str, dest: str, environ: Dict[str, str], download: Callable[[str, str], None]
) -> str:
    """In the job: write the payload named by ``source`` (``env:VAR`` or ``s3://...``) to
    ``dest`` and return ``dest``. Raises ConfigError with a clear message."""
    if source.startswith("env:"):
        var = source[4:]
        if var not in environ:
            raise ConfigError(f"shipped payload missing: environment variable {var} not set")
        try:
            data = decode(environ[var])
        except (ValueError, lzma.LZMAError) as exn:
            raise ConfigError(f"shipped payload {var} is corrupt: {exn}") from None
        with open(dest, "wb") as f:
            f.write(data)
        return dest
    if source.startswith("s3://"):
        download(source, dest)
        return dest
    raise ConfigError(f"unknown shipped payload source {source!r}")


def json_size(obj: Any) -> int:
    """Characters of ``obj`` serialized as AWS's JSON request body would carry it."""
    return len(json.dumps(obj, separators=(",", ":")))
