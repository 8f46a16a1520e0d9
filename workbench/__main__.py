"""``python -m workbench``: the same command as ``workbench``."""

from workbench.cli import main

raise SystemExit(main())
