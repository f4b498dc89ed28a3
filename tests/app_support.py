"""Helpers shared by the dashboard's AppTest modules (tests/test_app_*.py)."""

from __future__ import annotations

import base64
import html
import json
import re
from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

from core.data._sample import SAMPLE_DOCUMENTS, SAMPLE_QUERIES, document_index

APP = Path(__file__).resolve().parents[1] / "app.py"
# A page that loads the offline model or embeds can take seconds on a busy 2-core machine.
TIMEOUT_S = 60


def new_app() -> AppTest:
    """The whole app, first run done (Home)."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S)
    at.run()
    assert_ok(at)
    return at


def shown(markdown: str) -> str:
    """The text a visitor reads from a Markdown element whose untrusted parts went through
    ``ui.text.md``: backslash escapes resolved, invisible word joiners dropped."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown).replace("\u2060", "")


def assert_ok(at: AppTest) -> None:
    """No uncaught exception on the page (with the messages when there is one)."""
    assert not at.exception, [e.value for e in at.exception]


def open_page(at: AppTest, name: str) -> AppTest:
    at.switch_page(f"pages/{name}.py").run()
    assert_ok(at)
    return at


def load_sample(at: AppTest) -> AppTest:
    """Click Home's sample button (offline model) and check it worked."""
    open_page(at, "home")
    at.button(key="load_sample").click().run()
    assert_ok(at)
    assert any("Loaded the sample: 72 documents" in s.value for s in at.success)
    return at


def expected_text(query_index: int) -> str:
    """Text of the sample document that best answers sample query ``query_index``."""
    return SAMPLE_DOCUMENTS[document_index(SAMPLE_QUERIES[query_index].expected_id)].text


def charts(at: AppTest) -> list[dict]:
    """Every Plotly chart on the page as its figure JSON."""
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def trace_names(figure: dict) -> list[str]:
    return [trace.get("name") for trace in figure["data"]]


def texts_on_page(at: AppTest) -> str:
    """All markdown, captions, infos, warnings, errors and successes, one string."""
    parts = []
    for kind in (at.markdown, at.caption, at.info, at.warning, at.error, at.success):
        parts.extend(e.value for e in kind)
    return "\n".join(str(p) for p in parts)


def plotly_array(value) -> np.ndarray:
    """A figure JSON array: a plain list, or Plotly's typed form {"dtype", "bdata", "shape"}."""
    if isinstance(value, dict) and "bdata" in value:
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = [int(s) for s in str(value.get("shape", len(flat))).split(",")]
        return flat.reshape(shape)
    return np.asarray(value)


def hover_contains(hover: str, text: str) -> bool:
    """Whether a wrapped, escaped hover label holds all of ``text`` (line breaks ignored)."""
    flat = hover.replace("<br>", "").replace(" ", "")
    return html.escape(text).replace(" ", "") in flat


def number_formats(dataframe) -> dict[str, str]:
    """Column name -> the printf format its column_config gives it."""
    config = json.loads(dataframe.proto.columns or "{}")
    return {
        name: column["type_config"]["format"]
        for name, column in config.items()
        if "format" in column.get("type_config", {})
    }
