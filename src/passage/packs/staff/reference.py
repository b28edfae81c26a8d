"""The staff pack's reference data: the annex layouts, the nationality list, prior-year figures and the
figures the report prints in its text.

The nationality list (Member States, then observers/others, per annex, in the report's order) is reference
data: the pack ships the 2020 report's list, and `passage import nationality-list FILE` replaces it for a year
and the years after. Prior-year figures and printed figures are plain CSV inputs, replaceable by a file.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from passage.errors import UsageError
from passage.plugins import load_pack
from passage.store import Store

PACK = "staff"
PACK_DIR = Path(__file__).resolve().parent


@cache
def spec() -> dict[str, Any]:
    """The staff pack's pack.yaml (annexes, Annex I subsets, reference files, rules)."""
    return load_pack(PACK).spec


def annexes() -> dict[str, dict[str, Any]]:
    """Annex table name -> {category, grades (in the report's column order)}."""
    return spec()["annexes"]


def reference_path(name: str) -> Path:
    return PACK_DIR / spec()["reference"][name]


@dataclass
class NationalityList:
    """Per annex table, its (section, country) rows in the report's order."""

    tables: dict[str, list[tuple[str, str]]]
    source: str
    year: int | None = None

    def members(self, table: str) -> int:
        return sum(1 for section, _ in self.tables.get(table, []) if section == "member")


def pack_nationality_list() -> NationalityList:
    path = reference_path("nationalities")
    tables: dict[str, list[tuple[str, str]]] = {}
    year = None
    with path.open(encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            tables.setdefault(r["annex"], []).append((r["section"], r["country"]))
            year = int(r["year"])
    return NationalityList(tables, f"pack {PACK}: {path.relative_to(PACK_DIR)}", year)


def nationality_list(store: Store | None, year: int) -> NationalityList:
    """The list for `year`: the latest imported list of the greatest year <= `year`, else the pack's own."""
    if store is not None and store.table_exists("rec_staff_nationality"):
        found = store.query(
            "SELECT year, list, max(_import_id) AS imp FROM rec_staff_nationality WHERE year <= ? "
            "AND _import_id IS NOT NULL GROUP BY year, list ORDER BY year DESC, imp DESC LIMIT 1", [year])
        if found:
            list_year, sha, import_id = found[0]
            tables: dict[str, list[tuple[str, str]]] = {}
            for annex, section, country in store.query(
                    "SELECT annex, section, country FROM staff_nationality WHERE year = ? AND list = ? "
                    "ORDER BY annex, position", [list_year, sha]):
                tables.setdefault(annex, []).append((section, country))
            files = store.scalar("SELECT files FROM imports WHERE import_id = ?", [import_id])
            return NationalityList(tables, f"nationality-list import {import_id}: {files} (sha256 {sha[:12]}…)",
                                   int(list_year))
    return pack_nationality_list()


@dataclass
class Prior:
    """Published figures of earlier years: (table, grade, year, measure) -> (value, unit, source_label)."""

    rows: list[tuple[str, str, str, str, int, str, str]] = field(default_factory=list)
    source: str = ""

    def for_table(self, table: str, before: int) -> list[tuple[str, str, int, str, str]]:
        """(grade, year, measure, value, unit, source_label) rows of years before `before`, in file order."""
        return [(g, y, m, v, u, label) for t, g, y, m, v, u, label in self.rows
                if t == table and y.isdigit() and int(y) < before]

    def value(self, table: str, year: int, measure: str, grade: str = "") -> int | None:
        for t, g, y, m, v, _, _ in self.rows:
            if t == table and g == grade and y == str(year) and m == measure:
                return v
        return None


PRIOR_COLUMNS = ["table", "grade", "year", "measure", "value", "unit", "source_label"]


def load_prior(path: Path | None = None) -> Prior:
    """Prior-year figures from a CSV (`table,grade,year,measure,value,unit,source_label`); default: the pack's."""
    source = str(path) if path else f"pack {PACK}: {reference_path('prior').relative_to(PACK_DIR)}"
    path = Path(path) if path else reference_path("prior")
    rows = []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in PRIOR_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise UsageError(f"{path.name}: prior figures need the columns {', '.join(PRIOR_COLUMNS)} "
                             f"(missing: {', '.join(missing)})")
        for n, r in enumerate(reader, start=2):
            try:
                value = int(r["value"])
            except ValueError:
                raise UsageError(f"{path.name} line {n}: value {r['value']!r} is not a whole number") from None
            rows.append((r["table"], r["grade"] or "", r["year"], r["measure"], value, r["unit"], r["source_label"]))
    return Prior(rows, source)


FIGURE_COLUMNS = ["year", "id", "key", "value"]


def load_figures(path: Path | None = None, year: int | None = None) -> dict[tuple[str, str], float]:
    """Figures a report prints outside its tables: (id, key) -> value, for `year` (all years when None).

    The pack's file holds the 2020 report's, each with its quote (`year,id,key,value,printed,source,quote`).
    """
    path = Path(path) if path else reference_path("figures")
    out: dict[tuple[str, str], float] = {}
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in FIGURE_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise UsageError(f"{path.name}: figures need the columns {', '.join(FIGURE_COLUMNS)} "
                             f"(missing: {', '.join(missing)})")
        for n, r in enumerate(reader, start=2):
            if year is not None and r["year"] != str(year):
                continue
            try:
                value = float(r["value"])
            except ValueError:
                raise UsageError(f"{path.name} line {n}: value {r['value']!r} is not a number") from None
            out[(r["id"], r["key"] or "")] = int(value) if value.is_integer() else value
    return out
