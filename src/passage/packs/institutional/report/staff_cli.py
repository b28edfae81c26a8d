"""`passage report staff-tables` and `passage report check`: the staff annexes and the consistency rules."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from passage.cli.render import table, write_csv
from passage.errors import UsageError
from passage.packs.institutional.report.cli import report

pass_ctx = click.pass_obj


@report.command("staff-tables")
@click.option("--year", type=int, required=True, help="The year of the register, e.g. 2020.")
@click.option("-o", "--output", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder to write the seven CSVs into.")
@click.option("--prior", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Earlier years' figures (table,grade,year,measure,value,unit,source_label); default: the pack's.")
@pass_ctx
def report_staff_tables(ctx, year: int, out_dir: Path, prior: Path | None) -> None:
    """Write the staff annexes of a year from its latest register import.

    Annex II and III (annex2_general_service.csv, annex3_professional.csv), Annex I Tables 1-4
    (annex1_table1.csv .. annex1_table4.csv) and nationalities.csv.

    \b
    Example:
      passage import staff-register staff_register_2020.csv
      passage report staff-tables --year 2020 -o annexes/
    """
    from passage.packs.staff.tables import latest_register, write_staff_tables

    paths = write_staff_tables(ctx.store, year, out_dir, prior=prior)
    snap = latest_register(ctx.store, year)
    for p in paths:
        click.echo(p)
    if snap:
        click.echo(f"from staff-register import {snap.import_id} ({snap.files})", err=True)


@report.command("check")
@click.option("--year", type=int, help="Check the tables computed from this year's register.")
@click.option("--tables", "tables_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Check printed tables instead: a folder of CSVs named like the staff tables.")
@click.option("--figures", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Figures the report prints in its text (year,id,key,value,...); default: the pack's.")
@click.option("--prior", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="With --year: earlier years' figures; default: the pack's.")
@click.option("--all", "show_all", is_flag=True, help="List the checks that hold as well.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@pass_ctx
def report_check(ctx, year: int | None, tables_dir: Path | None, figures: Path | None, prior: Path | None,
                 show_all: bool, fmt: str) -> None:
    """Run the consistency rules over the staff tables; exit 1 when an error-severity rule fails.

    \b
    Examples:
      passage report check --year 2020
      passage report check --tables ../shared/data/seed/annex --format csv
    """
    from passage.packs.staff.reference import load_figures
    from passage.packs.staff.rules import Skipped, check, printed_tables, report_year
    from passage.packs.staff.tables import staff_tables

    if (year is None) == (tables_dir is None):
        raise UsageError("give either --year YEAR or --tables DIR")
    tables = printed_tables(tables_dir) if tables_dir else staff_tables(ctx.store, year, prior=prior)
    year = year or report_year(tables)
    skipped: list[Skipped] = []
    results = check(tables, load_figures(figures, year=year), year=year, skipped=skipped)
    shown = results if show_all else [r for r in results if not r.ok]
    errors = sum(1 for r in results if not r.ok and r.severity == "error")
    warnings = sum(1 for r in results if not r.ok and r.severity == "warning")
    if fmt == "json":
        click.echo(json.dumps({"year": year, "checked": len(results), "errors": errors, "warnings": warnings,
                               "results": [r.as_dict() for r in shown],
                               "skipped": [s.__dict__ for s in skipped]}, indent=2, ensure_ascii=False))
    elif fmt == "csv":
        write_csv(["rule", "severity", "ok", "where", "left", "operator", "right", "tolerance", "description"],
                  [(r.rule, r.severity, r.ok, r.where, r.left, r.operator, r.right, r.tolerance, r.description)
                   for r in shown])
    else:
        table(["rule", "severity", "result", "where", "left", "op", "right", "description"],
              [(r.rule, r.severity, "ok" if r.ok else "FAIL", r.where, _n(r.left), r.operator, _n(r.right),
                r.description) for r in shown])
    click.echo(f"{len(results)} checks: {len(results) - errors - warnings} hold, {errors} error(s), "
               f"{warnings} warning(s); {len(skipped)} skipped (cells absent)", err=True)
    if errors:
        sys.exit(1)


def _n(v: float) -> str:
    return f"{v:.1f}" if isinstance(v, float) and not v.is_integer() else str(int(v))
