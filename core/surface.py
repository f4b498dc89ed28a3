"""Which front end is speaking, so that a message names *its* controls: a browser user is told
about the box in the app, a shell user about ``--text-column``, a Python user about the
argument.

The dashboard sets ``"app"`` at the start of every script run, the command line ``"cli"`` in
``main``; anything else (a notebook, a script) is ``"library"``. One setting per process, not
per thread: messages are also made in the batch engine's worker threads, and a process serves
one surface (every session of the dashboard is the app).
"""

from __future__ import annotations

SURFACES = ("library", "cli", "app")
_surface = "library"

# control -> surface -> how that surface names it (completes "choose …" / "set …").
CONTROLS: dict[str, dict[str, str]] = {
    "text_column": {
        "app": "the 'CSV / JSONL text column' box under 'How to read the files'",
        "cli": "--text-column",
        "library": "the text_column argument",
    },
    "encoding": {
        "app": "the 'Text encoding' box under 'How to read the files'",
        "cli": "--encoding",
        "library": "the encoding argument",
    },
    "api_key": {
        "app": "the 'OpenAI API key' box in the sidebar (kept only in this browser session), "
        "or OPENAI_API_KEY in the app's secrets",
        "cli": "--api-key, or the OPENAI_API_KEY environment variable or .env file",
        "library": "the api_key argument, or the OPENAI_API_KEY environment variable or .env file",
    },
    "new_collection": {
        "app": "the Upload & embed page",
        "cli": "`embedding-workbench embed FILE... --out DIR`",
        "library": "Collection.create(...).save(DIR)",
    },
}


def set_surface(surface: str) -> None:
    """Make ``surface`` (one of :data:`SURFACES`) the one messages speak to, in this process."""
    global _surface
    if surface not in SURFACES:
        from core.errors import InvalidInputError

        raise InvalidInputError(
            f"unknown surface {surface!r}; choose one of: {', '.join(SURFACES)}"
        )
    _surface = surface


def current_surface() -> str:
    return _surface


def control(name: str) -> str:
    """How the current surface names control ``name`` (a key of :data:`CONTROLS`)."""
    return CONTROLS[name][_surface]
