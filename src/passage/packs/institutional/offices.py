"""Offices as places: headquarters, regional offices and the country offices under them.

Offices live in the `places` table with kind `office`, so that users can be scoped to one
(`passage users add … --scope CO-NGA`) and records can name one as their place. They sit at
their own levels — 10 headquarters, 11 regional office, 12 country office — so that no
admin-level query (`level = 0` for countries, `level IN (1, 2)` for P-codes) ever picks one
up. `parent_code` is the office above (a country office's regional office, a regional
office's headquarters) and `country_code` the ISO3 of the country the office is in.

CSV layout (UTF-8, comma-separated, header on line 1):

    code,name,kind,parent,iso3
    HQ,Headquarters,hq,,CHE
    RO-DKR,"Regional Office for West and Central Africa, Dakar",regional,HQ,SEN
    CO-NGA,IOM Nigeria,country,RO-DKR,NGA

* `code`: 2-20 capital letters, digits or hyphens; never three letters alone (that reads as a
  country scope) and never the code of a place that is not an office.
* `kind`: `hq`, `regional` or `country`.
* `parent`: a country office's regional office; a regional office's headquarters (or empty);
  empty for headquarters. The parent may be in the file or already in the store.
* `iso3`: the office's country (ISO 3166 alpha-3).
* optional `valid_from` (YYYY-MM-DD): the office counts for questionnaires from that year on.

An import replaces the offices with the same codes and keeps the others; bad rows are located
findings and the store is unchanged.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pycountry

from passage.auth.audit import audit
from passage.findings import WARNING, Finding, Outcome, Report
from passage.store import Store
from passage.store.schema import bump_generation

KIND = "office"
LEVELS = {"hq": 10, "regional": 11, "country": 12}
KIND_OF_LEVEL = {v: k for k, v in LEVELS.items()}
COLUMNS = ["code", "name", "kind", "parent", "iso3"]
OPTIONAL = ["valid_from"]
CODE_RE = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,19}$")
SOURCE = "office list"


@dataclass(frozen=True)
class Office:
    code: str
    name: str
    kind: str  # hq | regional | country
    parent: str | None
    iso3: str
    valid_from: date | None = None

    @property
    def region(self) -> str | None:
        """The regional office this office reports through (itself for a regional office)."""
        if self.kind == "regional":
            return self.code
        return self.parent if self.kind == "country" else None


def _read(path: Path, report: Report) -> list[dict]:
    """The data rows as dicts keyed by lower-case header, each with its line number as `_row`."""
    name = path.name
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        report.add(Finding("encoding", f"byte {exc.start} is not valid UTF-8", file=name))
        return []
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[tuple[int, list[str]]] = []
    try:
        for raw in reader:
            if any(c.strip() for c in raw):
                rows.append((reader.line_num, raw))
    except csv.Error as exc:
        report.add(Finding("csv-malformed", str(exc), file=name, row=reader.line_num))
        return []
    if len(rows) < 2:
        report.add(Finding("file-empty", "no office rows under the header", file=name, row=1))
        return []
    header = [h.strip().lower() for h in rows[0][1]]
    for col in COLUMNS:
        if col not in header:
            report.add(Finding("column-missing", f"column {col!r} is missing", file=name, row=1, column=col))
    for col in header:
        if col not in COLUMNS + OPTIONAL:
            report.add(Finding("column-unexpected", f"column {col!r} is not one of {', '.join(COLUMNS + OPTIONAL)}",
                               severity=WARNING, file=name, row=1, column=col))
    if not report.ok:
        return []
    return [{h: (raw[i].strip() if i < len(raw) else "") for i, h in enumerate(header)} | {"_row": line}
            for line, raw in rows[1:]]


def _existing(store: Store) -> dict[str, tuple[str, int]]:
    """Every place code with its kind and level."""
    return {code: (kind, level) for code, kind, level in store.query("SELECT code, kind, level FROM places")}


def read_offices(path: Path, store: Store | None = None) -> tuple[list[Office], Report]:
    """Parse and check an office list; the findings say file, row and column of every problem."""
    path = Path(path)
    report = Report()
    rows = _read(path, report)
    name = path.name
    existing = _existing(store) if store is not None else {}
    countries = {c.alpha_3 for c in pycountry.countries}
    seen: dict[str, int] = {}
    offices: list[Office] = []

    def bad(code: str, message: str, row: dict, column: str, value: str | None = None) -> None:
        report.add(Finding(code, message, file=name, row=row["_row"], column=column, value=value))

    for r in rows:
        for col in ("code", "name", "kind", "iso3"):
            if not r.get(col):
                bad("required", f"{col} is required", r, col)
        code, kind, iso3 = r.get("code", "").upper(), r.get("kind", "").lower(), r.get("iso3", "").upper()
        if code:
            if not CODE_RE.match(code) or (len(code) == 3 and code.isalpha()):
                bad("institutional.office-code-invalid", "an office code is 2-20 capital letters, digits or hyphens, and not "
                    "three letters alone (that is a country code)", r, "code", code)
            elif existing.get(code, (KIND, 0))[0] != KIND:
                bad("institutional.office-code-taken", f"{code} is already the code of a {existing[code][0]} place", r, "code", code)
            if code in seen:
                bad("duplicate-key", f"office {code} is listed twice (first on row {seen[code]})", r, "code", code)
            seen.setdefault(code, r["_row"])
        if kind and kind not in LEVELS:
            bad("choice-unknown", "kind must be one of hq, regional, country", r, "kind", r["kind"])
        if iso3 and iso3 not in countries:
            bad("institutional.office-country-unknown", f"{iso3} is not an ISO 3166 alpha-3 country code", r, "iso3", iso3)
        valid_from = None
        if r.get("valid_from"):
            try:
                valid_from = date.fromisoformat(r["valid_from"])
            except ValueError:
                bad("type-date", "valid_from must be a date (YYYY-MM-DD)", r, "valid_from", r["valid_from"])
        parent = r.get("parent", "").upper() or None
        offices.append(Office(code, r.get("name", ""), kind, parent, iso3, valid_from))
    if not report.ok:
        return offices, report
    # The hierarchy, over the file and the offices already stored.
    kinds = {c: KIND_OF_LEVEL.get(level) for c, (k, level) in existing.items() if k == KIND}
    kinds.update({o.code: o.kind for o in offices})
    want = {"country": "regional", "regional": "hq"}
    for o, r in zip(offices, rows):
        if o.kind == "hq":
            if o.parent:
                bad("institutional.office-parent-unknown", "headquarters has no parent office", r, "parent", o.parent)
        elif o.parent is None:
            if o.kind == "country":
                bad("institutional.office-parent-unknown", "a country office needs its regional office as parent", r, "parent")
        elif kinds.get(o.parent) != want[o.kind]:
            found = kinds.get(o.parent)
            bad("institutional.office-parent-unknown", f"the parent of a {o.kind} office must be a {want[o.kind]} office; "
                f"{o.parent} is {'a ' + found + ' office' if found else 'not an office'}", r, "parent", o.parent)
    if sum(1 for k in kinds.values() if k == "hq") > 1:
        for o, r in zip(offices, rows):
            if o.kind == "hq":
                bad("institutional.office-parent-unknown", "there can be one headquarters only", r, "kind", o.kind)
    return offices, report


def import_offices(store: Store, path: Path, *, user: str | None = None) -> Outcome[int]:
    """Load an office list (see the module docstring). The outcome's value is how many offices it held; when any
    row is wrong its report holds the located findings and nothing is changed.
    """
    from passage.places.gazetteer import import_countries

    offices, report = read_offices(Path(path), store)
    if not report.ok:
        return Outcome(report)
    import_countries(store)
    with store.transaction():
        for o in offices:
            store.execute("DELETE FROM places WHERE code = ?", [o.code])
            store.execute("INSERT INTO places (code, level, kind, name, parent_code, country_code, valid_from, source) "
                          "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                          [o.code, LEVELS[o.kind], KIND, o.name, o.parent, o.iso3, o.valid_from,
                           f"{SOURCE}: {Path(path).name}"])
        audit(store, user, "offices.import", target=Path(path).name, detail={"offices": len(offices)})
        bump_generation(store)
    return Outcome(report, len(offices))


def list_offices(store: Store, region: str | None = None, kind: str | None = None) -> list[Office]:
    """Offices ordered headquarters, regional offices, then country offices by code.

    `region`: a regional office's code; gives that office and the country offices under it.
    """
    rows = store.query("SELECT code, name, level, parent_code, country_code, valid_from FROM places "
                       "WHERE kind = ? ORDER BY level, code", [KIND])
    out = [Office(c, n, KIND_OF_LEVEL.get(lvl, "country"), p, iso3, vf) for c, n, lvl, p, iso3, vf in rows]
    if region:
        region = region.upper()
        out = [o for o in out if o.region == region]
    if kind:
        out = [o for o in out if o.kind == kind]
    return out


def get_office(store: Store, code: str) -> Office:
    from passage.errors import NotFound

    row = store.query("SELECT code, name, level, parent_code, country_code, valid_from FROM places "
                      "WHERE code = ? AND kind = ?", [code.upper(), KIND])
    if not row:
        raise NotFound(f"no office {code!r} (see `passage offices list`)")
    c, n, lvl, p, iso3, vf = row[0]
    return Office(c, n, KIND_OF_LEVEL.get(lvl, "country"), p, iso3, vf)


def default_offices_csv() -> Path:
    """The office list shipped with the institutional pack."""
    return Path(__file__).resolve().parent / "offices.csv"
