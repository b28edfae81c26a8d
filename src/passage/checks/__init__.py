"""Validation checks, one per file, all run as set-based SQL over a staging table.

A staging table holds the input as text: one column per form field, plus `_file`,
`_sheet` and `_row` saying where each record came from. A check finds the bad
rows with one query and reports the first few hundred of them, located, with an
exact count. Checks that change the staging table (P-code normalisation, keys) run
before the ones that depend on them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb

from passage.findings import ERROR, Finding, Report
from passage.forms import Form

KEPT_PER_CHECK = 200


@dataclass
class Context:
    eng: duckdb.DuckDBPyConnection
    table: str  # the staging table
    form: Form
    config: dict[str, Any]  # the pack's `records.<form_id>` section
    report: Report
    store_keys: str | None = None  # a relation of the keys already current in the store
    extra: dict[str, Any] = field(default_factory=dict)

    def columns(self) -> set[str]:
        return {r[0] for r in self.eng.execute(f"DESCRIBE {self.table}").fetchall()}


def flag(ctx: Context, code: str, where: str, message: str, column: str | None = None,
         value: str | None = None, severity: str = ERROR) -> int:
    """Report every staging row matching `where` as `code`; returns how many there are."""
    value_sql = f"CAST(({value}) AS VARCHAR)" if value else "NULL"
    rows = ctx.eng.execute(
        f"SELECT _file, _sheet, _row, {value_sql}, count(*) OVER () FROM {ctx.table} "
        f"WHERE {where} ORDER BY _file, _sheet, _row LIMIT {KEPT_PER_CHECK}"
    ).fetchall()
    if not rows:
        return 0
    for file, sheet, row, val, _ in rows:
        ctx.report.add(Finding(code, message, severity=severity, file=file, sheet=sheet, row=row,
                               column=column, value=val))
    total = rows[0][4]
    ctx.report.count(code, ctx.report.counts.get(code, 0) - len(rows) + total)
    return total


def q(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def run_checks(ctx: Context) -> None:
    """The checks, in dependency order; later ones are skipped once the input is known to be bad
    only where they would report noise (keys are meaningless if places did not resolve)."""
    from passage.checks import form_rules, not_in_future, non_negative, parts_within_total, places, unique_key

    form_rules.run(ctx)
    places.run(ctx)
    checks = ctx.config.get("checks", {})
    if "non_negative" in checks:
        non_negative.run(ctx, checks["non_negative"])
    if "parts_within_total" in checks:
        parts_within_total.run(ctx, **checks["parts_within_total"])
    if "not_in_future" in checks:
        not_in_future.run(ctx, checks["not_in_future"])
    if ctx.report.ok:
        unique_key.run(ctx)
