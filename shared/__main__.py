"""`python -m shared` is the same as the `palwatch` console script."""

from shared import cli

raise SystemExit(cli.main())
