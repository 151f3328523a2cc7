"""Reliability suite: fault injection and bad inputs against the local AWS, with a scorecard.

The scenario drivers (:mod:`.scenarios`) are shared by the CI tests in this folder (small sizes)
and by the scorecard (:mod:`.card`, the full figures): ``python bench/reliability.py``, which
runs ``python -m tests.reliability`` from the repository root.
"""
