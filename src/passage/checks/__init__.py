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
         value: str | None = None, severity: str = ERROR, total: int | None = None) -> int:
    """Report every staging row matching `where` as `code`; returns how many there are."""
    value_sql = f"CAST(({value}) AS VARCHAR)" if value else "NULL"
    # An import that quarantines locates every row with an error (each is set aside); warnings as always.
    kept = int(ctx.extra.get("kept_per_check", KEPT_PER_CHECK)) if severity == ERROR else KEPT_PER_CHECK
    # No ORDER BY: the staging table keeps the file's order, so a plain LIMIT stops at the first matches
    # instead of sorting millions of them (a warning may hold for every row); sorted here.
    rows = sorted(ctx.eng.execute(
        f"SELECT _file, _sheet, _row, {value_sql} FROM {ctx.table} WHERE {where} LIMIT {kept}"
    ).fetchall()[:kept], key=lambda r: (r[0] or "", r[1] or "", r[2] or 0))
    if not rows:
        return 0
    for file, sheet, row, val in rows:
        ctx.report.add(Finding(code, message, severity=severity, file=file, sheet=sheet, row=row,
                               column=column, value=val))
    if total is None:
        total = len(rows) if len(rows) < kept else ctx.eng.execute(
            f"SELECT count(*) FROM {ctx.table} WHERE {where}").fetchall()[0][0]
    ctx.report.count(code, ctx.report.counts.get(code, 0) - len(rows) + total)
    return total


@dataclass
class Batch:
    """Many conditions counted in one scan; only those that match are then located row by row.

    Clean input (the common case) costs one pass over the staging table, however many
    rules the form has.
    """

    ctx: Context
    items: list[tuple] = field(default_factory=list)

    def add(self, code: str, where: str, message: str, column: str | None = None, value: str | None = None,
            severity: str = ERROR) -> None:
        self.items.append((code, where, message, column, value, severity))

    def run(self) -> int:
        if not self.items:
            return 0
        counts = self.ctx.eng.execute(
            "SELECT " + ", ".join(f"count_if({item[1]})" for item in self.items) + f" FROM {self.ctx.table}"
        ).fetchall()[0]
        found = 0
        for n, (code, where, message, column, value, severity) in zip(counts, self.items):
            if n:
                found += flag(self.ctx, code, where, message, column=column, value=value, severity=severity, total=n)
        return found


def q(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def run_checks(ctx: Context) -> None:
    """The checks, in dependency order; later ones are skipped once the input is known to be bad
    only where they would report noise (keys are meaningless if places did not resolve)."""
    from passage.checks import form_rules, non_negative, not_in_future, parts_within_total, places, unique_key

    # The form's rules and the pack's row checks read only the staged text: one scan for all of them.
    batch = Batch(ctx)
    form_rules.run(ctx, batch)
    checks = ctx.config.get("checks", {})
    if "non_negative" in checks:
        non_negative.run(batch, checks["non_negative"])
    if "parts_within_total" in checks:
        parts_within_total.run(batch, **checks["parts_within_total"])
    if "not_in_future" in checks:
        not_in_future.run(batch, checks["not_in_future"])
    own = _pack_checks()
    for name, spec in checks.items():  # the packs' own row checks, in the same scan
        if name in own:
            own[name](batch, spec)
    batch.run()
    places.run(ctx)
    if ctx.report.ok:
        unique_key.run(ctx)


def _pack_checks() -> dict[str, Any]:
    from passage.plugins import merged

    return merged("row_checks")
