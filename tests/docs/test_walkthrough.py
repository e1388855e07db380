"""The README walkthrough's Python samples are real: excerpts of the example, or scripts that run.

A block whose first line names a file of the example (`# examples/legacy_app/tests/...`) must
appear in that file word for word; the other blocks run as scripts in tests/docs/test_readme.py,
and the console blocks are checked against the main job's output in
tests/integration/test_legacy_app.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def walkthrough() -> str:
    """The README's walkthrough section, up to the next `## ` heading."""
    text = README.read_text()
    start = text.index("## Walkthrough: a legacy application put under test")
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else None]


BLOCKS = re.findall(r"```python\n(.*?)```", walkthrough(), re.DOTALL)
EXCERPT = re.compile(r"# (examples/legacy_app/[\w/]+\.py)\n")
EXCERPTS = [(m.group(1), block[m.end() :]) for block in BLOCKS if (m := EXCERPT.match(block))]


def test_the_walkthrough_quotes_the_example() -> None:
    assert len(EXCERPTS) >= 5
    quoted = {path for path, _ in EXCERPTS}
    assert {
        "examples/legacy_app/invoicing/invoices.py",
        "examples/legacy_app/tests/support.py",
    } <= (quoted)


@pytest.mark.parametrize(("path", "excerpt"), EXCERPTS, ids=[p for p, _ in EXCERPTS])
def test_an_excerpt_is_word_for_word_in_its_file(path: str, excerpt: str) -> None:
    assert excerpt.strip(), f"the excerpt of {path} is empty"
    assert excerpt in (ROOT / path).read_text(), f"{path} no longer holds this excerpt"
