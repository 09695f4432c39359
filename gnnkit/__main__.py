"""``python -m gnnkit`` is the ``gnnkit`` command."""

from .cli import main

raise SystemExit(main())
