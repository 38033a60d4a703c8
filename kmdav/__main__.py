"""``python -m kmdav`` is the ``kmdav`` command."""

from kmdav.cli import main

raise SystemExit(main())
