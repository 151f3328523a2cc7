"""Benchmark harness: the same WDL workloads through this package and miniwdl-aws 0.12.2, each
against its own local AWS emulator process, with the emulator's call counts, job timestamps,
the runner's task logs and the kernel's rusage as the measuring instruments.

Modules: ``emulator_proc`` (start/stop/query the emulator), ``sides`` (which runner, which
settings), ``workloads`` (WDL + inputs), ``runner`` (one measured ``miniwdl run``), ``metrics``
(pure computations), ``report`` (tables, ratio lines, targets, RESULTS.md), ``theirs_venv`` (the
0.12.2 virtual environment), ``bench`` (one run end to end), ``provenance`` (git commit and
dirty state), ``rawfile`` (the raw files of recorded runs), ``summary`` (the headline tables
recomputed from raw files).
"""
