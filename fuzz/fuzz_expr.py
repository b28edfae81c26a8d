"""Fuzz the XLSForm expression compiler (`passage.forms.expr`): any text either compiles to SQL that DuckDB
runs over a staging table of awkward text values, or is refused with an `ExpressionError` (which the form's
checks turn into `expression-invalid` / `expression-unsupported`).

A compiled expression DuckDB cannot bind or run is a crash: the import's check step runs it unguarded.

    .venv/bin/python fuzz/fuzz_expr.py -max_total_time=60 /tmp/corpus-expr

Seeds: every expression in tests/test_expr.py and the fixture forms' constraints, relevance and calculations.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as h

with h.atheris.instrument_imports(include=["passage"]):
    from passage.forms.expr import ExpressionError, Options, to_sql_typed

import duckdb

FIELDS = {"a": "integer", "b": "decimal", "s": "text", "name": "text", "x": "text", "d": "date", "dob": "date",
          "visit": "date", "ts": "dateTime", "t": "time", "needs": "select_multiple needs", "yn": "select_one yn",
          "males": "integer", "females": "integer", "total": "integer", "g": "geopoint", "c": "calculate",
          "n": "range"}
VALUES = [None, "", "0", "-3", "12", "3.5", "1e400", "99999999999999999999", "abc", "a b c", "yes",
          "2024-02-29", "2023-13-45", "2024-01-01T12:00:00", "12:30", "9.1 7.2 0 5", "NaN", "-inf", "'", "\\"]
_eng: duckdb.DuckDBPyConnection | None = None


def seeds() -> dict[str, bytes]:
    tree = ast.parse((h.TESTS / "test_expr.py").read_text(encoding="utf-8"))
    found = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
             and ("${" in n.value or "(" in n.value or n.value.startswith(".")) and len(n.value) < 300
             and "\n" not in n.value}
    found |= {"regex(., '^[A-Z]{3}-[0-9]{4}$')", ". >= 0 and . <= 50", "${has_children} = 'yes' and ${a} < 18",
              "if(${yn} = 'yes', ${a}, 0)", "selected(${needs}, 'water') and string-length(${s}) > 2",
              "format-date(${d}, '%Y')", "int(${b}) mod 2 = 0", "round(${b} div 3, 2) != 1",
              "coalesce(${s}, 'x') = substr('abcdef', 1, 3)"}
    return {f"expr-{i}": text.encode("utf-8") for i, text in enumerate(sorted(found))}


def setup() -> None:
    global _eng
    _eng = duckdb.connect(":memory:")
    _eng.execute("SET threads = 1")
    cols = ", ".join(f'"{n}" VARCHAR' for n in FIELDS)
    _eng.execute(f"CREATE TABLE t ({cols})")
    rows = [[VALUES[(i + j * 7) % len(VALUES)] for j in range(len(FIELDS))] for i in range(len(VALUES))]
    _eng.executemany(f"INSERT INTO t VALUES ({', '.join('?' for _ in FIELDS)})", rows)


def one_input(data: bytes) -> None:
    text = data.decode("utf-8", errors="replace")
    opts = Options(names={n: n for n in FIELDS}, paths={n: f"g/{n}" for n in FIELDS})
    try:
        sql, _kind = to_sql_typed(text, FIELDS, self_field="a", options=opts)
    except ExpressionError:
        return
    try:
        _eng.execute(f"SELECT ({sql}) FROM t").fetchall()
    except duckdb.Error as exc:
        raise h.Unhandled(f"{text!r} compiled to SQL DuckDB cannot run: {exc}\n{sql}") from exc


if __name__ == "__main__":
    h.run(seeds, one_input, setup)
