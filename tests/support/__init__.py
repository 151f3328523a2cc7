"""What the test suites and the reliability scorecard share, each in one place:

- :mod:`.procs`: child processes with their output captured to files (:class:`~.procs.Proc`)
- :mod:`.miniwdl`: the one ``miniwdl run`` launcher, and the environments it runs in
- :mod:`.submitter`: the submitter's command line
- :mod:`.logs`: the one CloudWatch Logs stream reader
- :mod:`.emulator`: the one launcher of the local AWS as a separate process (``serve``)
- :mod:`.bad_inputs`: the one table of bad inputs (config, command line, WDL)

Nothing here imports pytest: ``python -m tests.reliability`` (the scorecard) uses it too.
"""
