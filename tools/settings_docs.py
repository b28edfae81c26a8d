"""Write the settings table into docs/operations.md from `passage.settings` (tests/test_settings.py fails when
it is stale). The table sits between the two marker comments; the rest of the page is written by hand."""

from __future__ import annotations

import sys
from pathlib import Path

from passage.settings import reference

OUT = Path(__file__).resolve().parents[1] / "docs" / "operations.md"
BEGIN, END = "<!-- settings:begin (tools/settings_docs.py) -->\n", "<!-- settings:end -->\n"


def render(page: str) -> str:
    head, _, rest = page.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}{reference()}{END}{tail}"


if __name__ == "__main__":
    page = OUT.read_text(encoding="utf-8")
    if BEGIN not in page or END not in page:
        sys.exit(f"{OUT} has no settings markers")
    text = render(page)
    if "--check" in sys.argv:
        sys.exit(0 if page == text else 1)
    OUT.write_text(text, encoding="utf-8")
    print(OUT)
