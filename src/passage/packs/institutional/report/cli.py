"""`passage report`: the annual report (and, from other modules, staff tables and consistency checks)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

pass_ctx = click.pass_obj


@click.group()
def report() -> None:
    """Reports: the annual report, staff tables and consistency checks."""


@report.command("annual")
@click.option("--year", type=int, required=True, help="The reporting year, e.g. 2020.")
@click.option("-o", "--output", "html_path", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to write the HTML report.")
@click.option("--pdf", "pdf_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write a PDF (WeasyPrint).")
@click.option("--templates", "template_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="A folder of templates overriding the pack's (same file names).")
@click.option("--strict", is_flag=True, help="Stop (exit 1) when an error-severity consistency rule fails.")
@click.option("--portal-url", default="", help="The portal's address, so the notes' record links work from a file.")
@click.option("--lang", type=click.Choice(["en", "fr", "es"]), default="en", show_default=True,
              help="The report's language (its wording and country names).")
@pass_ctx
def report_annual(ctx, year: int, html_path: Path, pdf_path: Path | None, template_dir: Path | None,
                  strict: bool, portal_url: str, lang: str) -> None:
    """Render the annual report: every figure computed from the store, with a note tracing it.

    Consistency rules run first; their failures are listed here and at the top of the report.

    \b
    Example:
      passage report annual --year 2020 -o report.html --pdf report.pdf
      passage report annual --year 2020 --lang fr -o rapport.html
    """
    from passage.packs.institutional.report.annual import ReportBlocked, render_annual

    try:
        result = render_annual(ctx.store, year, html_path=html_path, pdf_path=pdf_path,
                               template_dir=template_dir, strict=strict, portal_url=portal_url,
                               principal=ctx.principal, lang=lang)
    except ReportBlocked as exc:
        _print_failures(exc.failures)
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    _print_failures(result.failures)
    for reason in dict.fromkeys(g.text for g in result.data.gaps.values()):
        click.echo(f"no data for {year}: {reason}", err=True)
    t = result.timings
    click.echo(f"{html_path}: {result.figure_count} figures, {len(result.notes)} notes, "
               f"{len(result.failures)} failed rules ({t['collect'] + t['html']:.1f} s)")
    if pdf_path:
        click.echo(f"{pdf_path}: {result.pdf_pages} pages ({t['pdf']:.1f} s)")


def _print_failures(failures) -> None:
    for f in failures:
        click.echo(f"rule {f.rule} failed ({f.severity}): {f.text}", err=True)


@report.command("finance")
@click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--demo", is_flag=True, help="Import the 2019-2020 figures quoted in the 2020 annual report.")
@click.option("--update", is_flag=True, help="Years already in the store get a new version.")
@pass_ctx
def report_finance(ctx, file: Path | None, demo: bool, update: bool) -> None:
    """Import revenue and expenditure by year (the `finance` form) for the annual report.

    FILE is a CSV or XLSX with the columns `_uuid` (a stable id such as finance-2020), `year`,
    `revenue_usd_million`, `expenditure_usd_million`, `source` and `note`.

    \b
    Examples:
      passage report finance --demo
      passage report finance finance.csv --update
    """
    from passage.cli.render import accepted
    from passage.packs.institutional.report.finance import DEMO_CSV, import_finance

    if (file is None) == (not demo):
        raise click.UsageError("give a FILE or --demo")
    result = import_finance(ctx.store, file or DEMO_CSV, user=ctx.user, update=update)
    if result.status == "unchanged":
        click.echo(f"unchanged: imported before (import {result.previous_import})")
    else:
        accepted(result)
        click.echo(f"import {result.import_id} committed: {result.inserted} new, {result.updated} updated")
