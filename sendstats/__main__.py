"""``python -m sendstats``: the same as the ``sendstats`` command."""

from sendstats.cli import main

raise SystemExit(main())
