"""``python -m core``: the command-line interface (see core.cli._main)."""

import sys

from core.cli._main import main

sys.exit(main())
