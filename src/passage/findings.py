"""Validation findings as values.

A finding says what is wrong and exactly where: file, sheet, row, column. It never
copies a whole row (rows may hold sensitive values); only the one offending cell
value, cut to a short length. A Report collects findings for one import and is what
the CLI, the API and the portal all render.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from functools import cache
from typing import Any, Generic, TypeVar

from passage.errors import UsageError

ERROR = "error"
WARNING = "warning"

MAX_VALUE_CHARS = 80

# Stable core codes, with the title shown in reports and docs; packs add theirs through the `finding_codes`
# hook (`all_codes()`), each named `<pack>.<code>`. A test keeps docs/validation.md in step.
CODES: dict[str, str] = {
    "file-empty": "The file holds no data rows",
    "file-unreadable": "The file cannot be read in the expected format",
    "file-too-large": "The file exceeds the upload size limit",
    "encoding": "The file is not valid UTF-8",
    "csv-malformed": "A CSV line cannot be parsed (unbalanced quotes, wrong number of fields)",
    "json-malformed": "The JSON document cannot be parsed",
    "column-missing": "A required column is absent from the header",
    "column-unexpected": "The header has a column the format does not know",
    "column-duplicate": "The header names a column twice",
    "hxl-row-missing": "The HXL hashtag row under the header is absent",
    "hxl-row-mismatch": "An HXL hashtag does not match its column",
    "sheet-missing": "A required worksheet is absent",
    "formula": "A cell holds a formula instead of a value",
    "merged-cells": "The sheet has merged cells in its header or data",
    "cell-too-long": "A cell is longer than the limit",
    "row-count-mismatch": "The rows read from a CSV differ from the rows the file holds (counted without the parser)",
    "workbook-too-large": "The workbook would expand beyond the limits (size unzipped, compression ratio, parts)",
    "required": "A required value is empty",
    "type-integer": "The value is not a whole number",
    "type-decimal": "The value is not a number",
    "type-date": "The value is not a date (YYYY-MM-DD)",
    "type-datetime": "The value is not a date and time",
    "type-time": "The value is not a time of day",
    "type-geo": "The value is not a geopoint, geotrace or geoshape (lat lon [alt [acc]], in range)",
    "range": "The value is outside the range question's start, end or step",
    "choice-filtered": "The choice is not among those the question's choice_filter leaves for the row",
    "calculate-mismatch": "An exported calculated value differs from the form's calculation",
    "choice-unknown": "The value is not one of the form's choices",
    "constraint": "The value breaks the form's constraint",
    "not-relevant": "A value is given where the form's relevance rule says the question does not apply",
    "negative-count": "A count is below zero",
    "sex-exceeds-total": "Males plus females exceed the total",
    "future-date": "The date lies in the future",
    "pcode-unknown": "The P-code is not in the place table",
    "places-missing": "The store has no places (or none of a country at a level) to check the codes against",
    "pcode-wrong-level": "The P-code exists at another admin level",
    "pcode-parent-mismatch": "The P-code's parent differs from the parent given in the row",
    "pcode-length": "The provider's P-code was normalised to the COD length",
    "pcode-name-mismatch": "The provider's name differs from the name of the P-code",
    "duplicate-key": "Two rows of the input share the same key",
    "duplicate-key-store": "A row's key is already in the store",
    "parent-unknown": "A repeat row points to a parent row that does not exist",
    "repeat-count": "A row has more or fewer rows of a repeat group than its repeat_count says",
    "form-invalid": "The XLSForm cannot be compiled",
    "expression-invalid": "An XLSForm expression cannot be compiled",
    "expression-unsupported": "An XLSForm expression uses a feature Passage cannot check (its rule is not checked)",
    "out-of-scope": "A row is about a place outside the importing user's places",
    "boundary.not_geojson": "The boundary file is not a GeoJSON FeatureCollection",
    "boundary.unknown_pcode": "A boundary's P-code is not in the place table (or is a place of another level)",
    "boundary.bad_geometry": "A boundary's geometry is not a valid polygon in degrees",
    "boundary.no_pcode": "A boundary feature carries no P-code property (ADM1_PCODE, ADM2_PCODE, ...)",
    "boundary.too_large": "The boundary file exceeds the size limit",
    "doc.media_type": "The document is not a PDF, PNG, JPEG, SVG or WebP file (judged by its content, not its name)",
    "doc.too_large": "The document exceeds the size limit",
    "doc.empty": "The document file is empty",
    "doc.bad_pdf": "The PDF cannot be read: it is broken or encrypted",
    "doc.unknown_place": "A document's place code is not in the place table",
    "doc.bad_language": "The document's language is not an ISO 639-1 code",
}


@cache
def all_codes() -> dict[str, str]:
    """Core codes and every installed pack's. A pack's codes carry its name, so a report says whose rule a
    finding applies and no pack can take over a code of the core or of another pack."""
    from passage.plugins import by_pack

    codes = dict(CODES)
    for pack, declared in by_pack("finding_codes").items():
        codes.update(pack_codes(pack, declared or {}))
    return codes


def pack_codes(pack: str, declared: dict[str, str]) -> dict[str, str]:
    """`declared` (a pack's `finding_codes` answer) once every code is `<pack>.<code>` and none is a core code."""
    core_namespaces = {code.split(".", 1)[0] for code in CODES if "." in code}
    if pack in core_namespaces:
        raise UsageError(f"pack {pack!r} is named like the core's {pack}.* finding codes: its codes could not be "
                         "told from the core's; rename the pack", code="pack.finding_code")
    for code in declared:
        if code in CODES:
            raise UsageError(f"pack {pack!r} declares finding code {code!r}, which is a core code",
                             code="pack.finding_code")
        if not code.startswith(f"{pack}.") or code == f"{pack}.":
            raise UsageError(f"pack {pack!r} declares finding code {code!r}: a pack's codes start with its name, "
                             f"as in {pack + '.' + code.rpartition('.')[2]!r}", code="pack.finding_code")
    return declared


@dataclass(frozen=True)
class Finding:
    code: str
    message: str
    severity: str = ERROR
    file: str | None = None
    sheet: str | None = None
    row: int | None = None
    column: str | None = None
    value: str | None = None

    def __post_init__(self) -> None:
        if self.code not in CODES and self.code not in all_codes():
            raise ValueError(f"unknown finding code {self.code!r}")
        for name in ("value", "column"):  # a finding never carries more than one short cell
            text = getattr(self, name)
            if text is not None and len(text) > MAX_VALUE_CHARS:
                object.__setattr__(self, name, text[: MAX_VALUE_CHARS - 1] + "…")

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Report:
    """Everything validation found for one import, plus its counts."""

    findings: list[Finding] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # per code, including findings not kept
    limit: int = 10_000  # findings kept per code; counts stay exact

    def add(self, finding: Finding) -> None:
        n = self.counts.get(finding.code, 0)
        self.counts[finding.code] = n + 1
        if n < self.limit:
            self.findings.append(finding)

    def extend(self, findings: Iterable[Finding]) -> None:
        for f in findings:
            self.add(f)

    def count(self, code: str, total: int) -> None:
        """Record that `total` findings of `code` exist even if fewer were kept."""
        self.counts[code] = max(self.counts.get(code, 0), total)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == WARNING]

    @property
    def ok(self) -> bool:
        return not any(f.severity == ERROR for f in self.findings)

    def error_count(self) -> int:
        codes = {f.code for f in self.findings if f.severity == ERROR}
        return sum(self.counts[c] for c in codes)

    def warning_count(self) -> int:
        codes = {f.code for f in self.findings if f.severity == WARNING}
        return sum(self.counts[c] for c in codes)

    def codes(self) -> Counter:
        return Counter({c: n for c, n in self.counts.items()})

    def flat(self) -> list[tuple]:
        """(row, column, code) triples: what tests assert on."""
        return [(f.row, f.column, f.code) for f in self.findings]

    def __iter__(self) -> Iterator[Finding]:
        return iter(self.findings)

    def messages(self, code: str, most: int = 3) -> list[str]:
        """The distinct messages of a code's kept findings, first ones first: what a count per code means."""
        out: list[str] = []
        for f in self.findings:
            if f.code == code and f.message not in out:
                out.append(f.message)
                if len(out) == most:
                    break
        return out

    def summary(self) -> str:
        """One line for the import log: the count per code, each with its message(s)."""
        def part(code: str, n: int) -> str:
            said = self.messages(code)
            return f"{code}: {n}" + (f" ({'; '.join(said)})" if said else "")

        if self.ok:
            warned = {f.code for f in self.warnings}
            parts = ", ".join(part(c, n) for c, n in sorted(self.counts.items()) if n and c in warned)
            return f"valid ({self.warning_count()} warnings{': ' + parts if parts else ''})"
        parts = ", ".join(part(c, n) for c, n in sorted(self.counts.items()) if n)
        return f"rejected: {self.error_count()} errors ({parts})"

    def to_json(self) -> str:
        return json.dumps(
            {"ok": self.ok, "counts": self.counts, "findings": [f.as_dict() for f in self.findings]},
            indent=2,
            ensure_ascii=False,
        )


T = TypeVar("T")


@dataclass
class Outcome(Generic[T]):
    """What an import verb returns: its report and, when the input was accepted, what it stored (a count, an
    id, a summary). Rejected input is this value with errors in its report, never an exception; the CLI and
    the web turn it into exit code 1 or a 422 answer (the pipeline's `ImportResult` has the same `ok` and
    `report`)."""

    report: Report
    value: T | None = None

    @property
    def ok(self) -> bool:
        return self.report.ok


R = TypeVar("R")


def expect_accepted(result: R, what: str) -> R:
    """For input Passage makes itself (demo files, packaged tables, test fixtures): a rejection there is a bug in
    Passage, not a user's mistake, so it is raised with the report's summary rather than returned. `result` is
    an `Outcome` or an `ImportResult`."""
    checked: Any = result
    if not checked.ok:
        raise RuntimeError(f"{what} was rejected: {checked.report.summary()}")
    return result

