"""Passage's exception tree.

    PassageError
     ├── UsageError        a command was called wrongly (CLI exit code 2; HTTP 400)
     │    └── PackError    a pack's pack.yaml or a file it lists is invalid: every problem, located
     ├── NotFound          a named form, indicator, export or place does not exist (HTTP 404)
     ├── StoreError        the store cannot be opened or is in an unexpected state (HTTP 500)
     │    └── DiskFull     no space left for the archive, staging data or the store (HTTP 507)
     ├── AuthError         not signed in, wrong credentials, too many attempts (HTTP 401 / 429)
     ├── Forbidden         signed in, but the role or place scope does not allow it (HTTP 403)
     ├── Conflict          the record changed while an edit was being checked (HTTP 409)
     └── ImportRejected    input failed validation; carries the Report (CLI exit code 1; HTTP 422). Import
          │                verbs return their report instead: the web edge raises this for them, and an
          │                XLSForm that does not compile raises it
          └── EditRejected a record edit failed the checks an import of that row runs

Every error has a `code` (e.g. `not_found`, `auth.rate_limited`): the CLI prints it,
the API returns it as `{"error": {"code", "message", ...}}`.

Validation problems are values (`passage.findings.Finding`), not exceptions: an
exception only wraps a whole report at the edge, so callers can always inspect it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from passage.findings import Report


class PassageError(Exception):
    """Base of every error Passage raises on purpose."""

    code = "error"
    http_status = 500

    def __init__(self, message: str = "", code: str | None = None):
        super().__init__(message)
        if code:
            self.code = code


class UsageError(PassageError):
    code = "usage"
    http_status = 400


class PackError(UsageError):
    """A pack's files are not what Passage reads. `problems` holds every one found (file, key path, message),
    so a pack's author fixes them in one go."""

    code = "pack.invalid"

    def __init__(self, problems: Sequence[Any]):
        self.problems = list(problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"invalid pack: {len(self.problems)} problem(s)\n{lines}")


class NotFound(PassageError):
    code = "not_found"
    http_status = 404


class StoreError(PassageError):
    code = "store"
    http_status = 500


class DiskFull(StoreError):
    """The disk filled up (ENOSPC) while an import archived, staged or stored data: nothing was imported,
    no partial file is left behind; free some space and import again."""

    code = "store.disk_full"
    http_status = 507


class AuthError(PassageError):
    """Who you are is unknown or unproven. `retry_after` (seconds) is set when rate-limited."""

    code = "auth.required"
    http_status = 401

    def __init__(self, message: str = "", code: str | None = None, retry_after: int | None = None):
        super().__init__(message, code)
        self.retry_after = retry_after
        if self.code == "auth.rate_limited":
            self.http_status = 429


class Forbidden(PassageError):
    code = "forbidden"
    http_status = 403


class ImportRejected(PassageError):
    code = "import.rejected"
    http_status = 422

    def __init__(self, report: Report):
        self.report = report
        super().__init__(report.summary())


class EditRejected(ImportRejected):
    """A record edit (portal, API, `passage records edit`) failed the checks; nothing was changed."""

    code = "edit.rejected"


class Conflict(PassageError):
    """Someone else changed the record between reading it and writing the new version: try again."""

    code = "record.conflict"
    http_status = 409
