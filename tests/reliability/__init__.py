"""Reliability suite: fault injection and bad inputs against the local AWS, with a scorecard.

The scenario drivers (:mod:`.scenarios`) are shared by the CI tests in this folder (small sizes)
and by ``python bench/reliability.py`` (the full figures), which prints the scorecard.
"""
