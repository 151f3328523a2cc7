"""The local image table: what a container image would give a job besides its command.

Jobs run on the host, so an image's filesystem cannot be swapped in. What a job *reads* from its
image is mostly its environment (``ENV``) and a few files installed with ``COPY`` (a config file
named by an environment variable, typically). An entry built from a Dockerfile gives the job the
final stage's ``ENV`` values, with every value that names a file the Dockerfile copies replaced by
that file's path in the build context, so the job reads exactly the file the image would hold.
Images not in the table run on the host environment alone, as before.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Mapping, Optional, Tuple


@dataclass(frozen=True)
class Image:
    """What one image provides: environment variables, and files (path in the image → path on
    the host holding the same content)."""

    env: Mapping[str, str] = field(default_factory=dict)
    files: Mapping[str, str] = field(default_factory=dict)

    def job_env(self) -> Dict[str, str]:
        """The image's environment as the job sees it: a value naming a file of the image is
        the host path of that file."""
        return {key: self.files.get(value, value) for key, value in self.env.items()}


def _instructions(text: str) -> Iterator[Tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, with continuation lines joined and comments
    dropped."""
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):  # a comment inside a continued instruction
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        whole = (pending + line).strip()
        pending = ""
        if whole:
            word, _, rest = whole.partition(" ")
            yield word.upper(), rest.strip()
    if pending.strip():
        word, _, rest = pending.strip().partition(" ")
        yield word.upper(), rest.strip()


def _env_pairs(args: str) -> List[Tuple[str, str]]:
    """``ENV K=V K2="v 2"`` or the legacy ``ENV K value with spaces``."""
    words = shlex.split(args)
    if words and "=" not in words[0]:
        return [(words[0], args.partition(" ")[2].strip())]
    return [tuple(w.split("=", 1)) for w in words if "=" in w]  # type: ignore[misc]


def _copy_pairs(args: str) -> Optional[List[Tuple[str, str]]]:
    """(source, destination) of a ``COPY`` from the build context; None for ``COPY --from``
    (a file of another stage, not of the context)."""
    words = shlex.split(args)
    if any(w.startswith("--from") for w in words):
        return None
    words = [w for w in words if not w.startswith("--")]
    if len(words) < 2:
        return []
    *sources, dest = words
    if len(sources) == 1 and not dest.endswith("/"):
        return [(sources[0], dest)]
    return [(s, dest.rstrip("/") + "/" + os.path.basename(s.rstrip("/"))) for s in sources]


def from_dockerfile(path: str, context: Optional[str] = None) -> Image:
    """The :class:`Image` a Dockerfile builds: its last stage's ``ENV`` and the files its last
    stage copies from the build context (``context``: default the Dockerfile's directory).
    ``ARG`` substitution is not modelled; values are taken literally."""
    context = os.path.abspath(context or os.path.dirname(os.path.abspath(path)))
    with open(path) as f:
        text = f.read()
    env: Dict[str, str] = {}
    files: Dict[str, str] = {}
    for word, args in _instructions(text):
        if word == "FROM":  # only the final stage is the image
            env, files = {}, {}
        elif word == "ENV":
            env.update(_env_pairs(args))
        elif word in ("COPY", "ADD"):
            for source, dest in _copy_pairs(args) or []:
                host = os.path.join(context, source)
                if os.path.isfile(host):
                    files[dest] = host
    return Image(env=env, files=files)


def parse_spec(spec: str) -> Tuple[str, Image]:
    """``NAME=DOCKERFILE`` (``serve --image``) → (name, image)."""
    name, sep, dockerfile = spec.partition("=")
    if not sep or not name or not dockerfile:
        raise ValueError(f"--image wants NAME=DOCKERFILE, got {spec!r}")
    if not os.path.isfile(dockerfile):
        raise ValueError(f"--image {name}: no such Dockerfile {dockerfile!r}")
    return name, from_dockerfile(dockerfile)
