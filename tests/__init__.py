"""The test suite, a package so that its shared helpers import as ``tests.support`` and the
reliability scorecard runs as ``python -m tests.reliability`` from the repository root."""
