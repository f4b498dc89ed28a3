"""``python -m core.server``: run the local OpenAI-compatible server (see ``--help``)."""

from core.server._server import main

main()
