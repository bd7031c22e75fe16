"""``python -m skcrystal`` runs the command line (same as the ``skcrystal`` console script)."""

import sys

from .cli import main

sys.exit(main())
