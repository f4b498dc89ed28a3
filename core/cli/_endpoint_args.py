"""Flags for an OpenAI-compatible endpoint, shared by ``embed`` (and any command that embeds).

``--dimension`` states the output dimension (no probe request); ``--max-inputs``,
``--max-tokens-per-input`` and ``--max-tokens-per-request`` are the endpoint's limits;
``--query-prefix`` / ``--document-prefix`` override the model family's prefixes; ``--rpm`` /
``--tpm`` pace requests under the account's limits; ``--batch-api`` sends the job through the
OpenAI Batch API (half price) and ``--poll-interval`` sets how often it is polled.
"""

from __future__ import annotations

import argparse

from core.errors import InvalidInputError

# flag -> get_embedder option (all positive integers).
_INT_OPTIONS = {
    "dimension": "dimension",
    "max_inputs": "max_inputs_per_request",
    "max_tokens_per_input": "max_tokens_per_input",
    "max_tokens_per_request": "max_tokens_per_request",
    "rpm": "requests_per_minute",
    "tpm": "tokens_per_minute",
}
_REMOTE_ONLY = ("max_inputs", "max_tokens_per_input", "max_tokens_per_request", "rpm", "tpm")


def add_endpoint_arguments(p: argparse.ArgumentParser) -> None:
    """Add the endpoint flags to ``p``."""
    g = p.add_argument_group("OpenAI-compatible endpoint")
    g.add_argument(
        "--dimension", type=int, help="output dimension of the model (default: asked of the server)"
    )
    g.add_argument("--max-inputs", type=int, help="most texts per request the server accepts")
    g.add_argument("--max-tokens-per-input", type=int, help="most tokens the model reads per text")
    g.add_argument("--max-tokens-per-request", type=int, help="most tokens in one request")
    g.add_argument("--query-prefix", help='put before queries (default: the model family\'s; "")')
    g.add_argument(
        "--document-prefix", help='put before documents (default: the model family\'s; "")'
    )
    g.add_argument("--rpm", type=int, help="requests-per-minute limit to stay under")
    g.add_argument("--tpm", type=int, help="tokens-per-minute limit to stay under")
    g.add_argument(
        "--batch-api",
        action="store_true",
        help="send the job through the OpenAI Batch API (about half the price, up to 24 h); "
        "rerunning the same command resumes an interrupted batch",
    )
    g.add_argument(
        "--poll-interval", type=float, default=10.0, help="seconds between Batch API polls"
    )


def endpoint_options(args: argparse.Namespace, provider: str) -> dict:
    """The ``get_embedder`` options the flags ask for; bad values raise InvalidInputError."""
    options = {}
    for flag, option in _INT_OPTIONS.items():
        value = getattr(args, flag, None)
        if value is None:
            continue
        if value < 1:
            raise InvalidInputError(f"--{flag.replace('_', '-')} must be at least 1, got {value}")
        if provider != "openai" and flag in _REMOTE_ONLY:
            raise InvalidInputError(
                f"--{flag.replace('_', '-')} applies to --provider openai or a --base-url "
                f"server, not to {provider}"
            )
        options[option] = value
    for flag in ("query_prefix", "document_prefix"):
        value = getattr(args, flag, None)
        if value is not None:
            options[flag] = value
    if getattr(args, "batch_api", False) and provider != "openai":
        raise InvalidInputError(
            f"--batch-api is an OpenAI feature; it does not apply to {provider}"
        )
    if getattr(args, "poll_interval", 10.0) <= 0:
        raise InvalidInputError(f"--poll-interval must be positive, got {args.poll_interval}")
    return options
