"""The shipped Streamlit settings a hosted app depends on (issue 9, finding 11)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from streamlit import config

CONFIG = Path(__file__).resolve().parents[1] / ".streamlit" / "config.toml"


def test_visitors_never_see_tracebacks():
    """``none``: a generic message only (no traceback, type or message) in Streamlit 1.67."""
    settings = tomllib.loads(CONFIG.read_text(encoding="utf-8"))
    assert settings["client"]["showErrorDetails"] == "none"
    option = config._config_options_template["client.showErrorDetails"]
    assert '"none"' in option.description  # a value this Streamlit knows
