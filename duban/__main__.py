"""`python -m duban …` — see duban/cli.py."""

from duban.cli import main

raise SystemExit(main())
