"""The web's one answer to rejected input.

Import verbs return their report (`passage.findings.Outcome`, the pipeline's `ImportResult`) instead of
raising. A route hands that result to `accepted`, which lets an accepted one through and answers a rejected
one with 422 and the report: `{"error": {"code": "import.rejected", "message", "report"}}` under /api, the
error page in the portal, both drawn by the app's one PassageError handler.
"""

from __future__ import annotations

from typing import Any, TypeVar

from passage.errors import ImportRejected

R = TypeVar("R")


def accepted(result: R) -> R:
    """`result` itself when its input was accepted; otherwise the 422 answer carrying its report."""
    checked: Any = result
    if not checked.ok:
        raise ImportRejected(checked.report)
    return result
