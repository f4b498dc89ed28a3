"""The error a request handler raises to answer with an OpenAI-style error JSON."""

from __future__ import annotations


class HTTPError(Exception):
    """Answer ``status`` with ``{"error": {message, type, param, code}}`` (or ``plain``)."""

    def __init__(self, status, message, code=None, param=None, err_type="invalid_request_error"):
        super().__init__(message)
        self.status, self.code, self.param, self.err_type = status, code, param, err_type
        self.headers: dict[str, str] = {}
        self.plain: dict | None = None
