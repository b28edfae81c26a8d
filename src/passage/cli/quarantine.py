"""`passage quarantine …`: the rows an import kept aside with their errors (`passage import --on-error quarantine`)."""

from __future__ import annotations

import json

import click

from passage.cli import main
from passage.cli.render import table

pass_ctx = click.pass_obj


@main.group()
def quarantine() -> None:
    """Rows an import kept aside with their errors: list, show, fix, release (load), drop.

    \b
    Examples:
      passage import xlsform-data --form site_visit export.csv --on-error quarantine   # "1,755 loaded, 7 quarantined"
      passage quarantine list
      passage quarantine show 3
      passage quarantine fix 3 --set visit_date=2020-03-20   # checked again as an import checks it
      passage quarantine release 3                            # loaded as a record version
      passage quarantine drop 4 --reason "a duplicate visit"
    """


@quarantine.command("list")
@click.option("--import", "import_id", type=int, help="Rows of this import only.")
@click.option("--form", "form_id", help="Rows of this form only.")
@click.option("--status", type=click.Choice(["held", "released", "dropped", "all"]), default="held",
              show_default=True)
@click.option("--rows", "by_row", is_flag=True, help="One line per row (default: per import and form).")
@pass_ctx
def quarantine_list(ctx, import_id: int | None, form_id: str | None, status: str, by_row: bool) -> None:
    """Held rows per import and form with their count and error codes; --rows lists each row."""
    from passage.ingest import quarantine as qn

    wanted = None if status == "all" else status
    if not by_row and import_id is None and form_id is None:
        groups = qn.summary(ctx.store, ctx.principal, status=wanted)
        table(["import", "form", "kind", "file", "rows", "codes"],
              [(g["import_id"], g["form_id"], g["kind"], g["file"], g["rows"], g["codes"]) for g in groups])
        return
    held = qn.list_held(ctx.store, ctx.principal, import_id=import_id, form_id=form_id, status=wanted)
    table(["id", "import", "form", "file", "sheet", "row", "place", "status", "codes"],
          [(h.quarantine_id, h.import_id, h.form_id, h.file_name, h.sheet, h.source_row,
            h.place_code or h.country, h.status, ", ".join(sorted({f.code for f in h.errors})))
           for h in held])


@quarantine.command("show")
@click.argument("quarantine_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="The row as JSON.")
@pass_ctx
def quarantine_show(ctx, quarantine_id: int, as_json: bool) -> None:
    """A held row: where it came from, its values (form fields) and its findings."""
    from passage.ingest import quarantine as qn

    held = qn.get_held(ctx.store, quarantine_id, ctx.principal)
    if as_json:
        click.echo(json.dumps(held.as_dict(), indent=2, ensure_ascii=False, default=str))
        return
    click.echo(f"quarantined row {held.quarantine_id} ({held.status}): {held.form_id}, {held.file_name}"
               f"{' / ' + held.sheet if held.sheet else ''} row {held.source_row}, import {held.import_id}")
    table(["field", "value"], [(name, held.values.get(name)) for name in held.fields])
    for repeat, rows in held.repeats.items():
        click.echo(f"repeat {repeat}: {len(rows)} row(s)")
    if held.findings:
        table(["column", "code", "value", "message"], [(f.column, f.code, f.value, f.message) for f in held.findings])
    else:
        click.echo("no findings: ready to release")


@quarantine.command("fix")
@click.argument("quarantine_id", type=int)
@click.option("--set", "changes", multiple=True, required=True, metavar="FIELD=VALUE",
              help="A form field's new value (FIELD= clears it); repeat for more.")
@pass_ctx
def quarantine_fix(ctx, quarantine_id: int, changes: tuple[str, ...]) -> None:
    """Change fields of a held row and check it again (the checks of an import). Exit 1 while it has errors."""
    from passage.errors import UsageError
    from passage.ingest import quarantine as qn

    values = {}
    for change in changes:
        name, eq, value = change.partition("=")
        if not eq or not name:
            raise UsageError(f"--set takes FIELD=VALUE, not {change!r}", code="usage.value")
        values[name.strip()] = value
    held, report = qn.fix(ctx.store, quarantine_id, values, principal=ctx.principal)
    if not report.ok:
        click.echo(f"Still held: {report.error_count()} error(s); fix them, then release.", err=True)
        table(["column", "code", "value", "message"], [(f.column, f.code, f.value, f.message) for f in report.errors],
              err=True)
        raise SystemExit(1)
    click.echo(f"quarantined row {held.quarantine_id}: no errors left; `passage quarantine release "
               f"{held.quarantine_id}` loads it")


@quarantine.command("release")
@click.argument("quarantine_id", type=int)
@pass_ctx
def quarantine_release(ctx, quarantine_id: int) -> None:
    """Load a held row as a record version (checked once more; refused while it has errors)."""
    from passage.ingest import quarantine as qn

    record_id = qn.release(ctx.store, quarantine_id, principal=ctx.principal)
    click.echo(f"quarantined row {quarantine_id} released as record {record_id}")


@quarantine.command("drop")
@click.argument("quarantine_id", type=int)
@click.option("--reason", help="Why (kept in the audit log).")
@pass_ctx
def quarantine_drop(ctx, quarantine_id: int, reason: str | None) -> None:
    """Give up on a held row: loaded by none (its file stays archived with its import); audited."""
    from passage.ingest import quarantine as qn

    qn.drop(ctx.store, quarantine_id, principal=ctx.principal, user=ctx.user, reason=reason)
    click.echo(f"quarantined row {quarantine_id} dropped")
