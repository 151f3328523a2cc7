"""``python -m tests.reliability`` (from the repository root): the reliability scorecard
(:mod:`.card`); ``python bench/reliability.py`` runs this."""

import sys

from .card import main

sys.exit(main())
