"""Text rendering of reports and tables for the terminal."""

from __future__ import annotations

import csv
import sys
from collections.abc import Sequence
from typing import Any, TypeVar

import click

from passage.findings import Report

R = TypeVar("R")

SHOW = 20


def table(names: Sequence[str], rows: Sequence[Sequence], err: bool = False) -> None:
    cells = [[("" if v is None else str(v)) for v in r] for r in rows]
    widths = [max([len(n)] + [len(r[i]) for r in cells]) for i, n in enumerate(names)]
    widths = [min(w, 60) for w in widths]
    line = lambda vals: "  ".join(v[:w].ljust(w) for v, w in zip(vals, widths)).rstrip()
    click.echo(line(list(names)), err=err)
    click.echo(line(["-" * w for w in widths]), err=err)
    for r in cells:
        click.echo(line(r), err=err)


def write_csv(names: Sequence[str], rows: Sequence[Sequence]) -> None:
    """CSV on stdout as the CLI contract says: UTF-8, a header row, empty for missing values."""
    w = csv.writer(sys.stdout, lineterminator="\n")
    w.writerow(names)
    w.writerows([["" if v is None else v for v in r] for r in rows])


def rows_out(names: Sequence[str], rows: Sequence[Sequence], fmt: str) -> None:
    """`--format csv` for programs, a table for people."""
    if fmt == "csv":
        write_csv(names, rows)
    else:
        table(names, rows)


def print_report(report: Report, show: int = SHOW, *, outcome: str = "nothing was imported") -> None:
    """The first findings as a table, then the count per code: what an officer needs to fix the file."""
    errors, warnings = report.errors, report.warnings
    if errors:
        click.echo(f"Rejected: {report.error_count()} error(s); {outcome}.", err=True)
        table(["file", "sheet", "row", "column", "code", "value", "message"],
              [(f.file, f.sheet, f.row, f.column, f.code, f.value, f.message) for f in errors[:show]], err=True)
        if len(errors) > show:
            click.echo(f"… and {report.error_count() - show} more (write them all with --report FILE)", err=True)
    if warnings and not errors:
        click.echo(f"{report.warning_count()} warning(s), e.g.:", err=True)
        for f in warnings[:5]:
            click.echo(f"  {f.file} row {f.row} {f.column or ''}: {f.code} {f.message}"
                       + (f" ({f.value})" if f.value else ""), err=True)
    if report.counts:
        click.echo("Counts per code:", err=True)
        for code, n in sorted(report.counts.items()):
            said = "; ".join(report.messages(code))
            click.echo(f"  {code:<24} {n:>8}  {said}".rstrip(), err=True)


def accepted(result: R, *, outcome: str = "nothing was imported") -> R:
    """The CLI's one answer to rejected input, for every verb: the report on stderr and exit code 1. `result` is
    what the verb returned (an `Outcome`, the pipeline's `ImportResult`: anything with `ok` and `report`)."""
    checked: Any = result
    if not checked.ok:
        print_report(checked.report, outcome=outcome)
        sys.exit(1)
    return result

