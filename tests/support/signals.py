"""Ctrl-C for the processes that tests and the scorecard start."""

from __future__ import annotations

import signal


def restore_sigint() -> None:
    """A shell without job control starts background commands with SIGINT ignored, and that is
    inherited across exec: a submitter that a test or scenario Ctrl-Cs would never see it. A
    handled signal is reset to its default in children, so handle it here as Python does by
    default."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
