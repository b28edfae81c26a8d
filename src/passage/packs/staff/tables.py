"""The report's staff tables, computed from the latest register snapshot of a year.

Annex II and III: one row per country of the nationality list, in its order, zeros included; a nationality
with staff that the list lacks is added after the last row of its section (the import warned about it), so
no staff member is left out of a total. Annex I Tables 1-4 and the nationalities table: the report year from
the register, earlier years from the prior-figures file, in the long layouts of the published CSVs.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from passage.errors import NotFound
from passage.packs.staff.reference import NationalityList, Prior, annexes, load_prior, nationality_list, spec
from passage.store import Store

ANNEX1 = ["annex1_table1", "annex1_table2", "annex1_table3", "annex1_table4", "nationalities"]
LONG_COLUMNS = ["year", "measure", "value", "unit", "source_label"]


@dataclass
class Table:
    columns: list[str]
    rows: list[tuple]
    source: str  # the register import (file, sha256), the nationality list and the prior figures it came from

    def dicts(self) -> list[dict]:
        return [dict(zip(self.columns, r)) for r in self.rows]

    def write_csv(self, path: Path) -> Path:
        """UTF-8, header row, CRLF line ends: the layout of the published annex CSVs."""
        with Path(path).open("w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(self.columns)
            w.writerows(self.rows)
        return Path(path)


@dataclass(frozen=True)
class Snapshot:
    register: str  # sha256 of the register file(s)
    import_id: int
    files: str


def latest_register(store: Store, year: int) -> Snapshot | None:
    """The register snapshot a year's tables use: the one loaded by the latest committed import."""
    if not store.table_exists("rec_staff_member"):
        return None
    found = store.query(
        "SELECT register, max(_import_id) AS imp FROM rec_staff_member WHERE year = ? AND _import_id IS NOT NULL "
        "GROUP BY register ORDER BY imp DESC LIMIT 1", [year])
    if not found:
        return None
    register, import_id = found[0]
    files = store.scalar("SELECT files FROM imports WHERE import_id = ?", [import_id]) or ""
    return Snapshot(register, int(import_id), files)


def register_counts(store: Store, year: int) -> tuple[Snapshot, list[tuple]]:
    """(category, nationality_group, nationality, grade, sex, n) of the year's latest register snapshot."""
    snap = latest_register(store, year)
    if snap is None:
        raise NotFound(f"no staff register for {year} in the store (passage import staff-register FILE)")
    rows = store.query(
        "SELECT category, nationality_group, nationality, grade, sex, count(*) FROM staff_member "
        "WHERE year = ? AND register = ? GROUP BY category, nationality_group, nationality, grade, sex",
        [year, snap.register])
    return snap, [tuple(r[:5]) + (int(r[5]),) for r in rows]


def staff_tables(store: Store, year: int, *, prior: Path | Prior | None = None,
                 nationalities: NationalityList | None = None) -> dict[str, Table]:
    """All seven staff tables of `year` by name (annex2_general_service, annex3_professional, annex1_table1..4,
    nationalities)."""
    snap, counts = register_counts(store, year)
    nat = nationalities or nationality_list(store, year)
    prior = prior if isinstance(prior, Prior) else load_prior(prior)
    source = f"staff-register import {snap.import_id}: {snap.files} (sha256 {snap.register[:12]}…)"
    return tables_from_counts(counts, year, nat, prior, source)


def write_staff_tables(store: Store, year: int, out_dir: Path, *, prior: Path | Prior | None = None,
                       nationalities: NationalityList | None = None) -> list[Path]:
    """Write the seven tables as `<name>.csv` into `out_dir`; returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tables = staff_tables(store, year, prior=prior, nationalities=nationalities)
    return [t.write_csv(out / f"{name}.csv") for name, t in tables.items()]


def pct(part: int, whole: int) -> int | None:
    """A whole-number percentage, halves rounded up (as printed), None for an empty whole."""
    return None if not whole else (200 * part + whole) // (2 * whole)


def tables_from_counts(counts: list[tuple], year: int, nat: NationalityList, prior: Prior,
                       register_source: str) -> dict[str, Table]:
    """The tables from grouped register counts (category, group, nationality, grade, sex, n)."""
    src = f"{register_source}; nationality list: {nat.source}"
    out: dict[str, Table] = {}
    for name, annex in annexes().items():
        out[name] = _annex(name, annex, counts, nat, src)
    a1 = spec()["annex1"]
    ip = Counter({sex: 0 for sex in "FM"})
    gs = 0
    by_grade: Counter = Counter()
    for category, _, _, grade, sex, n in counts:
        if category == a1["international_professional"]:
            ip[sex] += n
            by_grade[(grade, sex)] += n
        elif category == a1["general_service"]:
            gs += n
    src1 = f"{src}; prior figures: {prior.source}"
    out["annex1_table1"] = _table1(year, ip, prior, src1)
    out["annex1_table2"] = _table2(year, a1["table2_grades"], by_grade, prior, src1)
    out["annex1_table3"] = _table3(year, a1["table3_grades"], by_grade, prior, src1)
    out["annex1_table4"] = _table4(year, ip["F"] + ip["M"], gs, prior, src1)
    out["nationalities"] = _nationalities(year, out["annex3_professional"], nat, prior, src1)
    return {name: out[name] for name in [*annexes(), *ANNEX1]}


def _annex(name: str, annex: dict, counts: list[tuple], nat: NationalityList, source: str) -> Table:
    grades = annex["grades"]
    cells: Counter = Counter()
    for category, group, nationality, grade, sex, n in counts:
        if category == annex["category"]:
            key = (group, nationality)
            cells[key + (grade,)] += n
            cells[key + ("sex", sex)] += n
            cells[key] += n
    listed = list(nat.tables.get(name, []))
    known = set(listed)
    extra = sorted({(g, c) for g, c, *_ in cells if (g, c) not in known})
    for key in extra:  # after the last listed row of its section (or at the end)
        last = max((i for i, (section, _) in enumerate(listed) if section == key[0]), default=len(listed) - 1)
        listed.insert(last + 1, key)
    rows = []
    for section, country in listed:
        key = (section, country)
        rows.append((section, country, *(cells[key + (g,)] for g in grades), cells[key],
                     cells[key + ("sex", "F")], cells[key + ("sex", "M")]))
    return Table(["section", "country", *grades, "total", "female", "male"], rows, source)


def _prior_rows(prior: Prior, table: str, year: int, grade: bool = False) -> list[tuple]:
    return [((g,) if grade else ()) + (int(y), m, v, u, label) for g, y, m, v, u, label in prior.for_table(table, year)]


def _table1(year: int, ip: Counter, prior: Prior, source: str) -> Table:
    men, women = ip["M"], ip["F"]
    rows = _prior_rows(prior, "annex1_table1", year)
    rows += [(year, "men", men, "count", "Men"), (year, "women", women, "count", "Women"),
             (year, "total", men + women, "count", "Total")]
    if men + women:
        rows.append((year, "percentage_women", pct(women, men + women), "percent", "Percentage of women"))
    return Table(LONG_COLUMNS, rows, source)


def _table2(year: int, grades: dict[str, list[str]], by_grade: Counter, prior: Prior, source: str) -> Table:
    rows: list[tuple] = []
    for label, parts in grades.items():
        men = sum(by_grade[(g, "M")] for g in parts)
        women = sum(by_grade[(g, "F")] for g in parts)
        rows += [(label, year, "men", men, "count", "Men"), (label, year, "women", women, "count", "Women"),
                 (label, year, "total", men + women, "count", f"Total in {year}")]
        for y in (year - 2, year - 1):
            v = prior.value("annex1_table2", y, "percentage_women", label)
            if v is not None:
                rows.append((label, y, "percentage_women", v, "percent", f"Percentage of women in {y}"))
        now = pct(women, men + women)
        if now is None:
            continue
        rows.append((label, year, "percentage_women", now, "percent", f"Percentage of women in {year}"))
        before = prior.value("annex1_table2", year - 2, "percentage_women", label)
        if before is not None:
            rows.append((label, f"{year - 2}-{year}", "change_percentage_women", now - before, "percentage_points",
                         f"Change in percentage of women between {year - 2} and {year}"))
    return Table(["grade", *LONG_COLUMNS], rows, source)


def _table3(year: int, grades: list[str], by_grade: Counter, prior: Prior, source: str) -> Table:
    men = sum(by_grade[(g, "M")] for g in grades)
    women = sum(by_grade[(g, "F")] for g in grades)
    rows = _prior_rows(prior, "annex1_table3", year)
    rows += [(year, "men", men, "count", "Men"), (year, "women", women, "count", "Women"),
             (year, "total", men + women, "count", "Total")]
    now = pct(women, men + women)
    if now is not None:
        rows.append((year, "percentage_women", now, "percent", "Percentage of women"))
        before = prior.value("annex1_table3", year - 1, "percentage_women")
        if before is not None:
            rows.append((year, "change_percentage_women", now - before, "percentage_points",
                         "Change in percentage of women"))
    return Table(LONG_COLUMNS, rows, source)


def _table4(year: int, ip: int, gs: int, prior: Prior, source: str) -> Table:
    rows = _prior_rows(prior, "annex1_table4", year)
    rows += [(year, "international_professional", ip, "count", "International Professional"),
             (year, "general_service_and_national_officers", gs, "count", "General Service and National Officers"),
             (year, "total", ip + gs, "count", "Total")]
    if ip + gs:
        rows.append((year, "percentage_international_professional", pct(ip, ip + gs), "percent",
                     "Percentage of international Professional"))
    return Table(LONG_COLUMNS, rows, source)


def _nationalities(year: int, annex3: Table, nat: NationalityList, prior: Prior, source: str) -> Table:
    """Nationalities with at least one Professional and higher staff member, by section of Annex III."""
    total = annex3.columns.index("total")
    members = sum(1 for r in annex3.rows if r[0] == "member" and r[total] > 0)
    others = sum(1 for r in annex3.rows if r[0] == "observer_other" and r[total] > 0)
    states = nat.members("annex3_professional")
    rows = _prior_rows(prior, "nationalities", year)
    rows += [(year, "member_state_nationalities", members, "count", "Number of Member State nationalities"),
             (year, "non_member_state_nationalities", others, "count", "Number of non-member State nationalities"),
             (year, "total_nationalities", members + others, "count", "Total nationalities represented"),
             (year, "member_states", states, "count", "Number of Member States")]
    if states:
        rows.append((year, "percentage_member_states_represented", pct(members, states), "percent",
                     "Percentage of Member States represented"))
    return Table(LONG_COLUMNS, rows, source)
