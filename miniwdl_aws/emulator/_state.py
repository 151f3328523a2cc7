"""Settings shared by the emulator's parts, and the per-request context.

moto builds each ``Job`` deep inside its own request handling, so request details it does not
parse (``retryStrategy``, ``propagateTags`` on SubmitJob) reach our ``LocalJob`` through a
thread-local set by the WSGI wrapper around moto (werkzeug serves each request on its own thread).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Dict, Optional

from ._images import Image

# Requests carrying this header (the emulator's own bootstrap) are neither counted nor faulted.
INTERNAL_HEADER = "X-Miniwdl-Emulator-Internal"

# ECS sends SIGKILL this many seconds after SIGTERM (ECS_CONTAINER_STOP_TIMEOUT's default)
DEFAULT_KILL_GRACE = 30.0
_FLAGS = ("strict", "enforce_memory")
_KEYS = ("dwell", "strict", "min_timeout", "kill_grace", "enforce_memory", "memory_poll")


@dataclass
class Settings:
    """Runtime knobs, changeable while running (``Emulator.configure``, ``POST /_emulator/config``).

    :param dwell: seconds spent in each transitional job state (SUBMITTED, RUNNABLE, STARTING)
    :param strict: reject what AWS rejects but moto accepts
    :param min_timeout: smallest ``attemptDurationSeconds`` accepted in strict mode (AWS: 60)
    :param kill_grace: seconds between SIGTERM and SIGKILL when a job is stopped (ECS's default
        stop timeout is 30 s; tests shorten it explicitly)
    :param enforce_memory: kill a job whose processes use more resident memory than its MEMORY
        requirement, reported as ECS reports an OOM kill
    :param memory_poll: seconds between two samples of the running jobs' memory use
    :param images: the local image table (image name → what it provides); set at start, not
        through ``configure``
    """

    dwell: float = 0.02
    strict: bool = True
    min_timeout: float = 60.0
    kill_grace: float = DEFAULT_KILL_GRACE
    enforce_memory: bool = True
    memory_poll: float = 0.25
    images: Dict[str, Image] = field(default_factory=dict)

    def update(self, values: Dict[str, Any]) -> None:
        """Apply ``values`` (only known keys; raises ValueError otherwise)."""
        for key, value in values.items():
            if key not in _KEYS:
                raise ValueError(f"unknown emulator setting {key!r}")
            if key in _FLAGS:
                setattr(self, key, bool(value))
            else:
                number = float(value)
                if number < 0:
                    raise ValueError(f"{key} must be >= 0")
                setattr(self, key, number)

    def as_dict(self) -> Dict[str, Any]:
        """The settings as JSON-able values."""
        return {
            "dwell": self.dwell,
            "strict": self.strict,
            "min_timeout": self.min_timeout,
            "kill_grace": self.kill_grace,
            "enforce_memory": self.enforce_memory,
            "memory_poll": self.memory_poll,
        }


class _RequestContext(threading.local):
    submit_body: Optional[Dict[str, Any]] = None


REQUEST = _RequestContext()
