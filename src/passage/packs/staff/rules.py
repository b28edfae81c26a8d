"""Consistency rules over the staff tables, DHIS2-style: a left expression, an operator, a right expression,
a severity. They run before a report is rendered, over computed tables or over printed ones.

Rules live in the pack (`rules:` in packs/staff/pack.yaml). Expressions are a small, safe language parsed
with `ast` (never `eval`): numbers, strings, + - * /, and the functions below over tables by name. A rule
can repeat over table rows or columns (`for_each`). A rule whose cells are absent is skipped, not failed:
the first year of a table has no year before it, a table or figure may not be given.
"""

from __future__ import annotations

import ast
import csv
import hashlib
import io
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from passage.errors import UsageError
from passage.packs.staff.reference import spec
from passage.packs.staff.tables import ANNEX1, Table

OPERATORS: dict[str, Callable[[float, float, float], bool]] = {
    "==": lambda a, b, t: a == b,
    "!=": lambda a, b, t: a != b,
    "<=": lambda a, b, t: a <= b,
    ">=": lambda a, b, t: a >= b,
    "<": lambda a, b, t: a < b,
    ">": lambda a, b, t: a > b,
    "~=": lambda a, b, t: abs(a - b) <= t + 1e-9,
}
SEVERITIES = ("error", "warning")
FUNCTIONS = {"cell", "value", "total", "nonzero", "rows", "cols", "pct", "fig", "str", "int"}


def table_names() -> list[str]:
    return [*spec()["annexes"], *ANNEX1]


@dataclass(frozen=True)
class Rule:
    id: str
    description: str
    left: str
    operator: str
    right: str
    severity: str = "error"
    tolerance: float = 0.5  # for ~=
    for_each: dict[str, Any] | None = None

    def tables(self) -> list[str]:
        """The tables the rule reads: what it applies to."""
        fe = self.for_each or {}
        found = [fe["rows"]] if "rows" in fe else fe.get("columns", [])[:1]
        for side in (self.left, self.right):
            for node in ast.walk(ast.parse(side, mode="eval")):
                if isinstance(node, ast.Name) and node.id in table_names() and node.id not in found:
                    found.append(node.id)
        return found


@dataclass(frozen=True)
class RuleResult:
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
        tol = f" (±{_num(self.tolerance)})" if self.operator == "~=" else ""
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


def load_rules(pack: str = "staff", path: Path | None = None) -> list[Rule]:
    """The rules of a pack (or of a YAML file with a `rules:` list), checked for form before use."""
    import yaml

    if path is not None:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")).get("rules", [])
    elif pack == "staff":
        raw = spec().get("rules", [])
    else:
        from passage.plugins import load_pack

        raw = load_pack(pack).spec.get("rules", [])
    rules, seen = [], set()
    for item in raw:
        try:
            rule = Rule(id=item["id"], description=item["description"], left=str(item["left"]),
                        operator=item["operator"], right=str(item["right"]), severity=item.get("severity", "error"),
                        tolerance=float(item.get("tolerance", 0.5)), for_each=item.get("for_each"))
        except KeyError as exc:
            raise UsageError(f"rule {item.get('id', '?')}: {exc.args[0]} is missing") from None
        _validate(rule)
        if rule.id in seen:
            raise UsageError(f"rule id {rule.id} is used twice")
        seen.add(rule.id)
        rules.append(rule)
    return rules


def _validate(rule: Rule) -> None:
    if rule.operator not in OPERATORS:
        raise UsageError(f"rule {rule.id}: operator {rule.operator!r} is not one of {' '.join(OPERATORS)}")
    if rule.severity not in SEVERITIES:
        raise UsageError(f"rule {rule.id}: severity must be error or warning")
    fe = rule.for_each
    if fe is not None and not (("rows" in fe and isinstance(fe.get("keys"), list))
                               or (isinstance(fe.get("columns"), list) and len(fe["columns"]) == 3)):
        raise UsageError(f"rule {rule.id}: for_each is {{rows: TABLE, keys: [...]}} or {{columns: [TABLE, FIRST, LAST]}}")
    for side in (rule.left, rule.right):
        try:
            tree = ast.parse(side, mode="eval")
        except SyntaxError as exc:
            raise UsageError(f"rule {rule.id}: cannot parse {side!r}: {exc.msg}") from None
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS):
                raise UsageError(f"rule {rule.id}: unknown function in {side!r}")
            if not isinstance(node, _ALLOWED):
                raise UsageError(f"rule {rule.id}: {type(node).__name__} is not allowed in {side!r}")


_ALLOWED = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Constant, ast.Name, ast.Load, ast.Call, ast.keyword,
            ast.List, ast.Subscript, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.USub, ast.UAdd)


class Missing(Exception):
    """A cell, table or figure an expression needs is not there: the rule is skipped."""


class _Eval:
    def __init__(self, tables: dict[str, Table], figures: dict[tuple[str, str], float] | None,
                 names: dict[str, Any]):
        self.tables, self.figures, self.names = tables, figures, names
        self._text: dict[str, list[tuple[str, ...]]] = {}

    def run(self, expr: str, bound: dict[str, Any]) -> Any:
        return self._node(ast.parse(expr, mode="eval").body, bound)

    def _node(self, n: ast.AST, bound: dict[str, Any]) -> Any:
        if isinstance(n, ast.Constant):
            return n.value
        if isinstance(n, ast.Name):
            if n.id in bound:
                return bound[n.id]
            if n.id in self.names:
                if self.names[n.id] is None:
                    raise Missing(f"no value for {n.id}")
                return self.names[n.id]
            if n.id in table_names() or n.id in self.tables:
                return n.id
            raise UsageError(f"unknown name {n.id!r} in a rule")
        if isinstance(n, ast.UnaryOp):
            v = self._node(n.operand, bound)
            return -v if isinstance(n.op, ast.USub) else v
        if isinstance(n, ast.BinOp):
            a, b = self._node(n.left, bound), self._node(n.right, bound)
            if isinstance(n.op, ast.Add):
                return a + b
            if isinstance(n.op, ast.Sub):
                return a - b
            if isinstance(n.op, ast.Mult):
                return a * b
            if b == 0:
                raise Missing("division by zero")
            return a / b
        if isinstance(n, ast.List):
            return [self._node(e, bound) for e in n.elts]
        if isinstance(n, ast.Subscript):
            container, key = self._node(n.value, bound), self._node(n.slice, bound)
            if key not in container:
                raise Missing(f"{key!r} has no entry")
            return container[key]
        if isinstance(n, ast.Call):
            args = [self._node(a, bound) for a in n.args]
            kw = {k.arg: self._node(k.value, bound) for k in n.keywords}
            return getattr(self, "f_" + n.func.id)(*args, **kw)  # type: ignore[union-attr]
        raise UsageError(f"{type(n).__name__} is not allowed in a rule")

    # -- tables ---------------------------------------------------------------------------------------------
    def _table(self, name: str) -> Table:
        if name not in self.tables:
            raise Missing(f"table {name} not given")
        return self.tables[name]

    def _match(self, name: str, filters: dict[str, Any]) -> list[tuple]:
        t = self._table(name)
        if name not in self._text:
            self._text[name] = [tuple(str(v) for v in r) for r in t.rows]
        idx = []
        for col, val in filters.items():
            if col not in t.columns:
                raise Missing(f"{name} has no column {col}")
            idx.append((t.columns.index(col), str(val)))
        return [r for r, s in zip(t.rows, self._text[name]) if all(s[i] == v for i, v in idx)]

    def _col(self, name: str, col: str) -> int:
        t = self._table(name)
        if col not in t.columns:
            raise Missing(f"{name} has no column {col}")
        return t.columns.index(col)

    def f_cell(self, name: str, col: str, **filters: Any) -> Any:
        found = self._match(name, filters)
        if len(found) != 1:
            where = ", ".join(f"{k}={v}" for k, v in filters.items())
            raise Missing(f"{len(found)} rows of {name} match {where}")
        return found[0][self._col(name, col)]

    def f_value(self, name: str, **filters: Any) -> Any:
        return self.f_cell(name, "value", **filters)

    def f_total(self, name: str, cols: str | list[str], **filters: Any) -> int | float:
        idx = [self._col(name, c) for c in ([cols] if isinstance(cols, str) else cols)]
        return sum(r[i] for r in self._match(name, filters) for i in idx)

    def f_nonzero(self, name: str, col: str, **filters: Any) -> int:
        i = self._col(name, col)
        return sum(1 for r in self._match(name, filters) if r[i])

    def f_rows(self, name: str, **filters: Any) -> int:
        return len(self._match(name, filters))

    def f_cols(self, name: str, first: str, last: str) -> list[str]:
        cols = self._table(name).columns
        return cols[self._col(name, first): self._col(name, last) + 1]

    def f_pct(self, part: float, whole: float) -> float:
        if not whole:
            raise Missing("percentage of zero")
        return 100 * part / whole

    def f_fig(self, fid: str, key: str = "") -> float:
        if self.figures is None:
            raise Missing("no printed figures given")
        if (fid, str(key)) not in self.figures:
            raise Missing(f"no figure {fid}{'/' + str(key) if key else ''}")
        return self.figures[(fid, str(key))]

    def f_str(self, v: Any) -> str:
        return str(v)

    def f_int(self, v: Any) -> int:
        try:
            return int(v)
        except (TypeError, ValueError):
            raise Missing(f"{v!r} is not a whole number") from None


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


@dataclass
class _Iteration:
    bound: dict[str, Any] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.bound.items())


def _iterations(rule: Rule, ev: _Eval) -> list[_Iteration]:
    fe = rule.for_each
    if not fe:
        return [_Iteration()]
    if "rows" in fe:
        t = ev._table(fe["rows"])
        idx = [ev._col(fe["rows"], k) for k in fe["keys"]]
        seen: dict[tuple, None] = {}
        for r in t.rows:
            seen.setdefault(tuple(r[i] for i in idx), None)
        return [_Iteration(dict(zip(fe["keys"], key))) for key in seen]
    name, first, last = fe["columns"]
    return [_Iteration({"col": c}) for c in ev.f_cols(name, first, last)]


def check(tables: dict[str, Table], figures: dict[tuple[str, str], float] | None = None, *,
          rules: list[Rule] | None = None, year: int | None = None,
          skipped: list[Skipped] | None = None) -> list[RuleResult]:
    """Run the rules over the tables (and the printed figures, when given); one result per rule and row/column.

    Rules or iterations whose cells are absent are left out of the results (listed in `skipped` when a list
    is passed).
    """
    a1 = spec()["annex1"]
    names = {"year": year if year is not None else report_year(tables), "table2_columns": a1["table2_grades"],
             "table3_columns": a1["table3_grades"]}
    ev = _Eval(tables, figures, names)
    out: list[RuleResult] = []
    for rule in rules if rules is not None else load_rules():
        try:
            iterations = _iterations(rule, ev)
        except Missing as exc:
            if skipped is not None:
                skipped.append(Skipped(rule.id, "", str(exc)))
            continue
        for it in iterations:
            try:
                left, right = ev.run(rule.left, it.bound), ev.run(rule.right, it.bound)
            except Missing as exc:
                if skipped is not None:
                    skipped.append(Skipped(rule.id, it.where, str(exc)))
                continue
            ok = OPERATORS[rule.operator](left, right, rule.tolerance)
            out.append(RuleResult(rule.id, rule.description, left, rule.operator, right, rule.severity, ok,
                                  it.where, rule.left, rule.right,
                                  rule.tolerance if rule.operator == "~=" else None))
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
