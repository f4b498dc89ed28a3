"""The README's LangChain example runs as written (offline) and prints what it says."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def example() -> tuple[str, str]:
    """The code block after the ``langchain-example`` marker, and its expected output."""
    text = README.read_text(encoding="utf-8")
    block = re.search(r"<!-- langchain-example -->\n```python\n(.*?)```", text, re.S)
    assert block, "README lost its LangChain example"
    code = block.group(1)
    expected = "\n".join(
        line[2:] for line in code.splitlines() if line.startswith("# ") and ":" in line
    )
    return code, expected


def test_readme_retrieval_chain_runs_offline():
    code, expected = example()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(README), "exec"), {"__name__": "readme_example"})
    assert out.getvalue().strip() == expected.strip()
