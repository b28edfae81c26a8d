"""Passage's exception tree.

    PassageError
     ├── UsageError        a command was called wrongly (CLI exit code 2)
     ├── NotFound          a named form, indicator, export or place does not exist
     ├── StoreError        the store cannot be opened or is in an unexpected state
     └── ImportRejected    input failed validation; carries the Report (CLI exit code 1)

Validation problems are values (`passage.findings.Finding`), not exceptions: an
exception only wraps a whole report at the edge, so callers can always inspect it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from passage.findings import Report


class PassageError(Exception):
    """Base of every error Passage raises on purpose."""


class UsageError(PassageError):
    pass


class NotFound(PassageError):
    pass


class StoreError(PassageError):
    pass


class ImportRejected(PassageError):
    def __init__(self, report: "Report"):
        self.report = report
        super().__init__(report.summary())
