"""The staff pack's consistency rules: comparisons of measures (`passage.measures`) over the report's tables.

The rules live in the pack (`measures:` and `rules:` in packs/staff/pack.yaml; docs/staff.md lists them). They
run before a report is rendered, over tables computed from the register or over printed ones, and the
figures the report prints in its text: each becomes a table the measures run over (`rule_tables`). A rule
whose rows are absent is skipped, not failed: the first year of a table has no year before it, a table or
figure may not be given.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import yaml

from passage.errors import NotFound, UsageError
from passage.measures import (
    Comparison,
    Measure,
    compare,
    formula_names,
    parse_comparisons,
    parse_measures,
    rows_of,
)
from passage.measures import Skipped as Skip
from passage.packs.staff.reference import spec
from passage.packs.staff.tables import ANNEX1, Table

FIGURES_TABLE = "report_figures"  # the figures printed in the report's text: (figure, col, value)


def table_names() -> list[str]:
    return [*spec()["annexes"], *ANNEX1]


@dataclass(frozen=True)
class RuleResult:
    """A rule's verdict on one row of its keys, as the report's checks page and `passage report check` print it."""

    rule: str
    description: str
    left: float | int
    operator: str
    right: float | int
    severity: str
    ok: bool
    where: str = ""
    left_expr: str = ""
    right_expr: str = ""
    tolerance: float | None = None

    @property
    def text(self) -> str:
        """One line: what was compared, and how it came out."""
        tol = f" (±{_num(self.tolerance)})" if self.tolerance else ""
        where = f" [{self.where}]" if self.where else ""
        verdict = "holds" if self.ok else "fails"
        return f"{self.description}{where}: {_num(self.left)} {self.operator} {_num(self.right)}{tol} {verdict}"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "text": self.text}


@dataclass(frozen=True)
class Skipped:
    rule: str
    where: str
    reason: str


def _num(v: Any) -> str:
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else f"{v:.1f}"
    return str(v)


def _where(keys: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in keys.items())


def _file(path: Path | None, pack: str) -> dict[str, Any]:
    if path is None:
        if pack == "staff":
            return spec()
        from passage.plugins import load_pack

        return load_pack(pack).spec
    loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    if not isinstance(loaded, dict):
        raise UsageError(f"{path}: a rule file holds `measures:` and `rules:`")
    return loaded


def load_measures(pack: str = "staff", path: Path | None = None) -> dict[str, Measure]:
    """The measures the rules read: the pack's, and those of a rule file (`measures:`) when one is given."""
    own = parse_measures(_file(None, pack).get("measures") or [], pack, f"pack {pack} measures")
    extra = parse_measures(_file(path, pack).get("measures") or [], pack, f"{path} measures") if path else []
    out = {m.name: m for m in own}
    for m in extra:
        if m.name in out:
            raise UsageError(f"{path}: measure {m.name!r} is the pack's already", code="usage.measure")
        out[m.name] = m
    return out


def load_rules(pack: str = "staff", path: Path | None = None) -> list[Comparison]:
    """The rules of a pack (or of a YAML file with `rules:` and its own `measures:`), each checked, and each
    name they read known."""
    where = f"{path} rules" if path else f"pack {pack} rules"
    rules = parse_comparisons(_file(path, pack).get("rules") or [], where)
    known = load_measures(pack, path)
    for rule in rules:
        for side in (rule.left, rule.right):
            unknown = [n for n in formula_names(side) if n not in known] if isinstance(side, str) else []
            if unknown:
                raise UsageError(f"{where}: rule {rule.id} reads no measure {unknown[0]!r}", code="usage.measure")
    return rules


def report_year(tables: dict[str, Table]) -> int | None:
    """The report year of a set of tables: the latest year of Annex I (Table 1 first)."""
    for name in ANNEX1:
        t = tables.get(name)
        if t is not None and "year" in t.columns:
            i = t.columns.index("year")
            years = [r[i] for r in t.rows if isinstance(r[i], int)]
            if years:
                return max(years)
    return None


def _number(v: Any) -> int | float | None:
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _memtable(columns: dict[str, list[Any]], types: dict[str, str]) -> ibis.Table:
    """A table of typed columns (through Arrow: no pandas inference); whole numbers stay whole."""
    values = columns["value"]
    types = {**types, "value": "int64" if all(isinstance(v, int) or v is None for v in values) else "float64"}
    return ibis.memtable(pa.table(columns, schema=ibis.schema(types).to_pyarrow()))


def _annex_rows(name: str, t: Table) -> ibis.Table:
    """An annex (section, country, one column per grade, total, female, male) long: one row per cell."""
    grades = spec()["annexes"][name]["grades"]
    a1 = spec()["annex1"]
    label = {g: lbl for lbl, parts in a1["table2_grades"].items() for g in parts} if name == "annex3_professional" \
        else {}
    cols: dict[str, list[Any]] = {k: [] for k in ("section", "country", "col", "part", "grade", "table3", "value")}
    for row in t.dicts():
        for col, value in row.items():
            if col in ("section", "country"):
                continue
            part = "grade" if col in grades else "total" if col == "total" else "sex" if col in ("female", "male") \
                else None
            for k, v in (("section", row.get("section")), ("country", row.get("country")), ("col", col),
                         ("part", part), ("grade", label.get(col)), ("table3", col in a1["table3_grades"]
                                                                    and bool(label)), ("value", _number(value))):
                cols[k].append(v)
    return _memtable(cols, {"section": "string", "country": "string", "col": "string", "part": "string",
                            "grade": "string", "table3": "boolean"})


def _long_rows(t: Table, year: int | None) -> ibis.Table:
    """An Annex I table (year, measure, value; Table 2 also grade) with `years_before`: the report year minus
    the row's year. A span ("2018-2020", a change) counts as its last year."""
    keys = [c for c in ("grade",) if c in t.columns]
    cols: dict[str, list[Any]] = {k: [] for k in (*keys, "year", "years_before", "measure", "value")}
    for row in t.dicts():
        text = str(row.get("year", "")).rsplit("-", 1)[-1].strip()
        y = int(text) if text.isdigit() else None
        for k in keys:
            cols[k].append(None if row.get(k) is None else str(row[k]))
        cols["year"].append(y)
        cols["years_before"].append(None if y is None or year is None else year - y)
        cols["measure"].append(row.get("measure"))
        cols["value"].append(_number(row.get("value")))
    return _memtable(cols, {**{k: "string" for k in keys}, "year": "int64", "years_before": "int64",
                            "measure": "string"})


def _figure_rows(figures: dict[tuple[str, str], float] | None) -> ibis.Table:
    items = sorted((figures or {}).items())
    return _memtable({"figure": [k[0] for k, _ in items], "col": [k[1] for k, _ in items],
                      "value": [_number(v) for _, v in items]}, {"figure": "string", "col": "string"})


def rule_tables(tables: dict[str, Table], figures: dict[tuple[str, str], float] | None = None,
                year: int | None = None) -> dict[str, ibis.Table]:
    """The tables the rules' measures run over, by name: each staff table given, and the report's figures
    (none when not given: the rules that read them are skipped)."""
    year = year if year is not None else report_year(tables)
    out: dict[str, ibis.Table] = {}
    for name, t in tables.items():
        if name in spec()["annexes"]:
            out[name] = _annex_rows(name, t)
        elif name in ANNEX1:
            out[name] = _long_rows(t, year)
    if figures is not None:
        out[FIGURES_TABLE] = _figure_rows(figures)
    return out


def check(tables: dict[str, Table], figures: dict[tuple[str, str], float] | None = None, *,
          rules: list[Comparison] | None = None, measures: dict[str, Measure] | None = None,
          year: int | None = None, skipped: list[Skipped] | None = None) -> list[RuleResult]:
    """Run the rules over the tables (and the printed figures, when given); one result per rule and key.

    Keys whose rows are absent are left out of the results (listed in `skipped` when a list is passed).
    """
    given = rule_tables(tables, figures, year)
    read = rows_of(None, measures if measures is not None else load_measures(), given)

    read_before: dict[str, list[dict[str, Any]]] = {}  # a measure several rules read is computed once

    def side(spec_: str) -> list[dict[str, Any]]:
        if spec_ not in read_before:
            try:
                read_before[spec_] = read(spec_)
            except NotFound:  # a table or the figures not given
                read_before[spec_] = []
        return read_before[spec_]

    out: list[RuleResult] = []
    for rule in rules if rules is not None else load_rules():
        skips: list[Skip] = []
        for r in compare(rule, side, skips):
            out.append(RuleResult(rule.id, rule.description, r.left, rule.operator, r.right, rule.severity, r.ok,
                                  _where(r.where), str(rule.left), str(rule.right), r.tolerance or None))
        if skipped is not None:
            skipped.extend(Skipped(rule.id, _where(s.where), s.reason) for s in skips)
    return out


def failures(results: list[RuleResult], severity: str | None = None) -> list[RuleResult]:
    return [r for r in results if not r.ok and (severity is None or r.severity == severity)]


def _typed(col: str, text: str) -> Any:
    if col in ("section", "country", "grade", "measure", "unit", "source_label"):
        return text
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def printed_tables(directory: Path) -> dict[str, Table]:
    """The staff tables as printed (CSV files named like the tables, e.g. the report's annexes parsed)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise UsageError(f"{directory} is not a folder of table CSVs")
    out: dict[str, Table] = {}
    for name in table_names():
        path = directory / f"{name}.csv"
        if not path.exists():
            continue
        data = path.read_bytes()
        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
        if not rows:
            continue
        header = rows[0]
        typed = [tuple(_typed(c, v) for c, v in zip(header, r)) for r in rows[1:] if r]
        out[name] = Table(header, typed, f"{path} (sha256 {hashlib.sha256(data).hexdigest()[:12]}…)")
    if not out:
        raise UsageError(f"{directory} holds none of the tables ({', '.join(f'{n}.csv' for n in table_names())})")
    return out
