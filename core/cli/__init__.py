"""The command line, ``embedding-workbench`` (or ``python -m core``): a thin front end.

:func:`main` parses the arguments and calls the library; exit codes are named in
:mod:`core.cli`.
"""

from core.cli._main import main

__all__ = ["main"]
