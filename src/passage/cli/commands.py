"""Every `passage` command: parse arguments, make one library call, render the result."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import click

from passage.cli import main
from passage.cli.render import accepted, print_report, rows_out, table
from passage.errors import UsageError
from passage.settings import DEFAULTS

pass_ctx = click.pass_obj


def _progress(ctx, label: str):
    """A phase-by-phase progress line on stderr (silent with --quiet or when not a terminal)."""
    if ctx.quiet:
        return None
    bar_steps = ["hashing", "parsing", "validating", "archiving", "loading"]
    bar = click.progressbar(length=len(bar_steps), label=label, file=sys.stderr, show_eta=False,
                            item_show_func=lambda s: s or "")
    bar.__enter__()

    def step(name: str) -> None:
        bar.update(1, name)
        if name == bar_steps[-1]:
            bar.render_finish()

    step.bar = bar  # type: ignore[attr-defined]
    return step


# ---- places -------------------------------------------------------------------------------------------

@main.group()
def places() -> None:
    """The place hierarchy: ISO 3166 countries and OCHA P-codes."""


@places.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--lengths", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="OCHA's global-pcode-lengths.csv, used to normalise providers' P-codes.")
@pass_ctx
def places_import(ctx, file: Path, lengths: Path | None) -> None:
    """Import OCHA's global P-code table (adds ISO 3166 countries as admin0).

    \b
    Example:
      passage places import global-pcodes-adm-1-2.csv --lengths global-pcode-lengths.csv
    """
    from passage.places import import_lengths, import_pcodes

    _administrator(ctx)
    n = accepted(import_pcodes(ctx.store, file)).value
    click.echo(f"{n} P-codes imported from {file.name}")
    if lengths:
        click.echo(f"{accepted(import_lengths(ctx.store, lengths)).value} countries' P-code lengths imported")


@places.command("list")
@click.option("--level", type=int, help="Admin level (0 = country).")
@click.option("--country", help="ISO 3166 alpha-3 code, e.g. NGA.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv"]), default="table", show_default=True)
@pass_ctx
def places_list(ctx, level: int | None, country: str | None, fmt: str) -> None:
    """List places.  Example: passage places list --level 1 --country NGA"""
    from passage.places import list_places

    rows = list_places(ctx.store, level=level, country=country)
    rows_out(["code", "level", "name", "parent_code", "country_code"], rows, fmt)


# ---- forms --------------------------------------------------------------------------------------------

@main.group()
def forms() -> None:
    """XLSForm forms: the one schema language."""


@forms.command("list")
@pass_ctx
def forms_list(ctx) -> None:
    """Installed forms and their versions."""
    from passage.forms import list_forms
    from passage.plugins import available_packs, install_pack

    for name in available_packs():
        install_pack(ctx.store, name)
    table(["form_id", "version", "title", "pack", "installed_at"], list_forms(ctx.store))


@forms.command("install")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dataset-title", help="Title of the form's dataset (default: the form's title).")
@click.option("--license", "license_", help="The dataset's licence, e.g. 'CC BY 4.0'.")
@click.option("--source", help="Who collected the data, e.g. 'NGO X field teams'.")
@click.option("--metadata", "metadata_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="YAML of HDX dataset metadata: title, notes, source, organisation, maintainer, license, "
                   "methodology, caveats, update_frequency, tags (docs/forms.md).")
@pass_ctx
def forms_install(ctx, file: Path, dataset_title: str | None, license_: str | None, source: str | None,
                  metadata_file: Path | None) -> None:
    """Compile an XLSForm (.xlsx) with pyxform and install it (a new version adds fields). The form is a
    dataset of its own (`passage datasets list`); the options set its HDX metadata.

    \b
    Example:
      passage forms install household_energy.xlsx --license "CC BY 4.0" --source "Energy cluster, Borno"
    """
    from passage.findings import Report
    from passage.forms import compile_xlsform, install_form
    from passage.forms.datasets import metadata_file as read_metadata
    from passage.forms.datasets import place_fields, place_notes, set_metadata

    user = _administrator(ctx)
    notes = Report()  # what imports of this form will not be able to check
    form = compile_xlsform(file, max_bytes=ctx.store.settings.limits.upload_bytes.forms, report=notes)
    meta = read_metadata(metadata_file) if metadata_file else {}
    meta |= {k: v for k, v in {"title": dataset_title, "license": license_, "source": source}.items() if v}
    done = install_form(ctx.store, form)
    if meta:
        set_metadata(ctx.store, form.form_id, meta, user=user)
    click.echo(f"{form.form_id} version {form.version}: {'installed' if done else 'already installed'} "
               f"({len(form.fields)} fields)")
    places = place_fields(form)
    if places:
        click.echo("records are linked to places by " + ", ".join(
            f"{form.field(p['field']).path} ({'any level' if p['level'] is None else 'admin' + str(p['level'])})"
            for p in places))
    for note in place_notes(form):
        click.echo(f"note: {note}", err=True)
    for f in notes.findings:
        click.echo(f"warning [{f.code}] {f.column}: {f.message}", err=True)


@forms.command("show")
@click.argument("form_id")
@pass_ctx
def forms_show(ctx, form_id: str) -> None:
    """The fields of a form: name, type, required, constraint, relevance."""
    from passage.forms import get_form
    from passage.plugins import available_packs, install_pack

    for name in available_packs():
        install_pack(ctx.store, name)
    form = get_form(ctx.store, form_id)
    click.echo(f"{form.form_id} version {form.version}: {form.title}")
    table(["path", "type", "required", "constraint", "relevant", "choices"],
          [(f.path, f.type, "yes" if f.required else "", f.constraint or "", f.relevant or "",
            " ".join(f.choices or [])[:40]) for f in form.fields])


# ---- import and log -----------------------------------------------------------------------------------

class ImportCommand(click.Command):
    """`passage import`'s help lists the import kinds of the installed packs, with their examples."""

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        from passage.ingest import importers

        kinds, examples = [], []
        for kind, make in sorted(importers().items()):
            importer = make()
            kinds.append(f"      {kind}: {importer.description}")
            examples += [f"      {line}" for line in getattr(importer, "examples", ())]
        saved = self.help
        self.help = saved.replace("    {kinds}", "\n".join(kinds)).replace("{examples}", "\n".join(examples))
        try:
            super().format_help_text(ctx, formatter)
        finally:
            self.help = saved


@main.command("import", cls=ImportCommand)
@click.argument("kind")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--form", "form_id", help="Form ID (required for xlsform-data).")
@click.option("--update", is_flag=True, help="Records already in the store become new versions instead of errors.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write every finding as JSON to this file.")
@click.option("--year", type=click.IntRange(1900, 2100),
              help="The year the files are for, for importers of yearly lists whose files may have no year "
                   "column (default: the year in the file name).")
@click.option("--sheet", help="The workbook sheet that holds the records, for importers of workbooks "
                              "(default: the first sheet).")
@click.option("--on-error", "on_error", type=click.Choice(["reject", "quarantine"]),
              help="Rows with errors: reject the whole import, or quarantine them (kept aside with their findings "
                   "for `passage quarantine`) and load the others. Problems of the file itself always reject it. "
                   "Default: the pack's `on_error:`, else reject.")
@pass_ctx
def import_cmd(ctx, kind: str, files: tuple[Path, ...], form_id: str | None, update: bool,
               report_path: Path | None, year: int | None, sheet: str | None, on_error: str | None) -> None:
    """Validate files and import them as one transaction (all or nothing, or, with --on-error quarantine,
    the valid rows with the others kept aside).

    \b
    KIND: boundaries (OCHA COD-AB GeoJSON whose features carry P-codes, for the portal's maps), or one of
    {kinds}
    Exit code 1 when the input is rejected; the report goes to stderr.
    \b
    Examples:
      passage import xlsform-data --form site_assessment export.xlsx --report errors.json
      passage import boundaries nga_admbnda_adm2.geojson
{examples}
    """
    if kind == "boundaries":
        from passage.places.boundaries import import_boundaries

        for f in files:
            counts = accepted(import_boundaries(ctx.store, f, user=_administrator(ctx))).value
            click.echo(f"{f.name}: {counts}")
        return
    from passage.ingest import import_files

    store, principal = ctx.store, ctx.principal  # opened before the bar starts (a portal may run this instead)
    step = _progress(ctx, f"import {kind}")
    try:
        result = import_files(store, kind, list(files), form_id=form_id, principal=principal, update=update,
                              progress=step, options={k: v for k, v in (("year", year), ("sheet", sheet)) if v is not None},
                              on_error=on_error)
    finally:
        if step is not None:
            step.bar.__exit__(None, None, None)  # type: ignore[attr-defined]
    if report_path:
        report_path.write_text(result.report.to_json(), encoding="utf-8")
    if result.skipped and result.status != "unchanged":
        click.echo(f"skipped (imported before): {', '.join(result.skipped)}")
    if result.status == "unchanged":
        click.echo(f"unchanged: the same file(s) were imported already (import {result.previous_import})")
        return
    accepted(result)
    click.echo(f"import {result.import_id} committed: {result.inserted} new, {result.updated} updated, "
               f"{result.unchanged} unchanged of {result.rows_read} rows")
    if result.quarantined:
        click.echo(f"{result.counts_text()} (see `passage quarantine list --import {result.import_id}`)")
        held = result.report.errors
        click.echo(f"Quarantined: {result.quarantined} row(s) with {result.report.error_count()} error(s):", err=True)
        table(["file", "sheet", "row", "column", "code", "value", "message"],
              [(f.file, f.sheet, f.row, f.column, f.code, f.value, f.message) for f in held[:20]], err=True)
    elif result.report.warnings:
        print_report(result.report)


@main.command("log")
@click.option("--limit", default=50, show_default=True)
@pass_ctx
def log_cmd(ctx, limit: int) -> None:
    """Imports, newest first, with their counts and outcome (with --user, the imports that user may read)."""
    from passage.access import IMPORT_COLUMNS, readable_imports
    from passage.ingest.pipeline import import_log

    if not ctx.principal.is_admin:
        table(list(IMPORT_COLUMNS), [[r[c] for c in IMPORT_COLUMNS] for r in readable_imports(
            ctx.store, ctx.principal, limit)])
        return
    names, rows = import_log(ctx.store, limit)
    table(names, rows)


@main.command("rollback")
@click.argument("import_id", type=int)
@pass_ctx
def rollback_cmd(ctx, import_id: int) -> None:
    """Roll a committed import back: the records it created get a tombstone, the ones it changed their values
    from before it, all as new versions (admins). Refused when a record changed after the import, or while
    the import holds rows in the quarantine.

    \b
    Example:
      passage log
      passage rollback 42
    """
    from passage.ingest.rollback import rollback_import

    done = rollback_import(ctx.store, import_id, principal=ctx.principal)
    click.echo(_rollback_text(done))


def _rollback_text(done: dict) -> str:
    gone = sum(t["tombstones"] for t in done["tables"].values())
    back = sum(t["restored"] for t in done["tables"].values())
    return (f"import {done['import_id']} ({done['form_id']}) rolled back: {gone:,} record(s) it created deleted, "
            f"{back:,} record(s) it changed restored, as new versions")


# ---- records ------------------------------------------------------------------------------------------

@main.group()
def records() -> None:
    """Record versions: history, edit (a new version), delete (a tombstone)."""


@records.command("history")
@click.argument("form_id")
@click.argument("record_id")
@pass_ctx
def records_history(ctx, form_id: str, record_id: str) -> None:
    """Every version of a record with its provenance (with --user, of records that user may edit)."""
    from passage.errors import Forbidden
    from passage.records import history, read_history

    if not ctx.principal.is_admin and read_history(ctx.store, form_id, record_id, ctx.principal)["versions"] is None:
        raise Forbidden(f"{ctx.principal.user_name} ({ctx.principal.role}) is not allowed to read the history of "
                        f"{record_id!r}: editors of its place and admins are")
    names, rows = history(ctx.store, form_id, record_id)
    table(names, rows)


@records.command("edit")
@click.argument("form_id")
@click.argument("record_id")
@click.argument("changes", nargs=-1, required=True)
@pass_ctx
def records_edit(ctx, form_id: str, record_id: str, changes: tuple[str, ...]) -> None:
    """Change fields as a new version, checked as an import of the row.

    \b
    Example:
      passage records edit site_visit 'KEY' households=1200

    CHANGES are FIELD=VALUE pairs (FIELD= clears a field). The new version passes the checks an
    import of that row runs (types, required, choices, constraints, P-codes and their parents, the
    pack's checks, keys against the other records); with --user naming a user of the store, their
    role and places apply to the record as it is and as it would be. A refused edit changes nothing,
    prints the report on stderr and exits 1.
    """
    from passage.edits import edit_record

    values = {}
    for c in changes:
        if "=" not in c:
            raise UsageError(f"expected field=value, got {c!r}")
        k, v = c.split("=", 1)
        values[k] = v or None
    version = edit_record(ctx.store, form_id, record_id, values, principal=ctx.principal)
    click.echo(f"version {version}")


@records.command("delete")
@click.argument("form_id")
@click.argument("record_id")
@pass_ctx
def records_delete(ctx, form_id: str, record_id: str) -> None:
    """Delete a record (a tombstone version; its history stays): --user's role and places apply."""
    from passage.records import delete_record

    click.echo(f"version {delete_record(ctx.store, form_id, record_id, principal=ctx.principal)} (deleted)")


def _administrator(ctx) -> str | None:
    """--user's name, once they may administer the store (boundaries, places, forms)."""
    from passage.access import STORE, require

    require(ctx.principal, "administer", STORE)
    return ctx.principal.user_name


def _reader(ctx, all_: bool, what: str):
    """Whose view a read command shows: without --user the public's (published releases only, said on stderr),
    with --user that user's; `--all` (unpublished too) needs an admin's --user."""
    from passage.auth import PUBLIC

    if all_ and not (ctx.user and ctx.principal.is_admin):
        raise UsageError(f"--all shows unpublished {what} too: it needs --user naming an admin of the store "
                         f"(`passage --user admin … --all`)", code="usage.all_needs_admin")
    if not ctx.user:
        click.echo(f"Showing what the public sees: published {what} only (--user ADMIN --all for every one).",
                   err=True)
        return PUBLIC
    return ctx.principal


# ---- indicators and export ----------------------------------------------------------------------------

@main.group()
def indicators() -> None:
    """Declarative indicators defined by packs, and those added to users' own forms."""


@indicators.command("list")
@pass_ctx
def indicators_list(ctx) -> None:
    """Every indicator with its unit and breakdown (`pack` empty: added to a user's form)."""
    from passage.indicators import all_indicators

    table(["name", "title", "unit", "form", "by", "pack"],
          [(i.name, i.title, i.unit, i.form, ", ".join(i.rollup or i.keys), i.pack)
           for i in all_indicators(ctx.store).values()])


@indicators.command("add")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_ctx
def indicators_add(ctx, file: Path) -> None:
    """Add the indicators of a YAML file (measures, docs/measures.md) to users' forms; each is checked
    against its form first, and one of the same name is replaced.

    \b
    Example:
      passage indicators add household_energy_indicators.yaml
    """
    from passage.forms.datasets import add_indicators

    user = _administrator(ctx)
    for m in add_indicators(ctx.store, file, user=user):
        click.echo(f"{m.name}: {m.describe()} (form {m.form})")


@indicators.command("remove")
@click.argument("name")
@pass_ctx
def indicators_remove(ctx, name: str) -> None:
    """Remove an indicator added to a user's form."""
    from passage.forms.datasets import remove_indicator

    remove_indicator(ctx.store, name, user=_administrator(ctx))
    click.echo(f"{name}: removed")


@indicators.command("show")
@click.argument("name")
@click.option("--country", help="Only this country (admin0 code).")
@click.option("--limit", default=50, show_default=True)
@click.option("--all", "all_", is_flag=True,
              help="Over every record, unpublished ones too (needs --user naming an admin).")
@pass_ctx
def indicators_show(ctx, name: str, country: str | None, limit: int, all_: bool) -> None:
    """An indicator's definition and its first rows: over what the public sees (published releases), or
    with --user over what that user may read; --all with an admin's --user over every record.

    \b
    Example:
      passage indicators show households_by_district --country NGA
      passage --user admin indicators show households_by_district --all
    """
    from passage.indicators import compute, get_indicator

    reader = _reader(ctx, all_, "figures")
    ind = get_indicator(name, ctx.store)
    click.echo(f"{ind.name}: {ind.title} ({ind.unit})\n{ind.description}\nform {ind.form}; "
               f"{ind.describe()}")
    if reader.is_admin:
        by_country = "admin0_pcode" if ind.pack else "_country"  # a user form's records: their _country
        data = compute(ctx.store, name, {by_country: country.upper()} if country else None)
    else:
        from passage import query
        from passage.releases import indicator_dataset

        ds, _ = indicator_dataset(ctx.store, name, reader)
        data = query.indicator_rows(ctx.store, reader, ds, name,
                                    query.RecordFilter(country=country.upper() if country else None))
    rows = data.slice(0, limit).to_pylist()
    table(data.column_names, [list(r.values()) for r in rows])
    click.echo(f"{data.num_rows} rows")


@main.command("export")
@click.argument("name", required=False)
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx", "parquet", "json", "hxl"]), default="csv",
              show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="File to write (default: stdout).")
@click.option("--list", "list_", is_flag=True, help="List the tables that can be exported.")
@click.option("--validate", is_flag=True, help="With --format hxl: check the output with libhxl's schema validation.")
@click.option("--neutralise-formulas", is_flag=True,
              help="With csv or hxl: make the file safe to open in a spreadsheet, as portal downloads are: text "
                   "starting with = + - @, a tab or a carriage return gets a leading ', cells holding , ; or a "
                   "tab are quoted. Numbers are kept. (XLSX always types text as text.)")
@click.option("--bom", is_flag=True,
              help="With csv or hxl: start the file with a UTF-8 byte order mark, so Excel reads it as UTF-8 "
                   "(the portal's \"for Excel\" links do). Use with --neutralise-formulas for a file to open there.")
@click.option("--all", "all_", is_flag=True,
              help="Every row, unpublished ones too (needs --user naming an admin).")
@pass_ctx
def export_cmd(ctx, name: str | None, fmt: str, output: Path | None, list_: bool, validate: bool,
               neutralise_formulas: bool, bom: bool, all_: bool) -> None:
    """Export a published table: a pack export, an indicator, a table a pack derives, or a user form's records
    (FORM_ID; each repeat: FORM_ID__REPEAT, and a sheet of the form's XLSX) (`--list` names them).
    Without --user, what the public sees (published releases only; stderr says so); with --user, what that
    user may read (a viewer: the released records); --all with an admin's --user: every row, unpublished too.

    \b
    Examples:
      passage export --list
      passage export site_visits --format hxl -o site_visits.csv --validate
      passage export site_visits --format csv -o site_visits.csv --neutralise-formulas
      passage export site_visits --format csv -o site_visits.csv --neutralise-formulas --bom   # for Excel
      passage export households_by_district --format parquet -o households_by_district.parquet
      passage export household_energy --format xlsx -o household_energy.xlsx   # a user's form and its repeats
    """
    from passage.publish import write
    from passage.publish.tables import list_tables, readable_names, readable_table

    reader = _reader(ctx, all_, "rows")
    if list_ or not name:
        table(["name", "title"], list_tables(ctx.store) if reader.is_admin
              else readable_names(ctx.store, reader))
        return
    if fmt in ("xlsx", "parquet") and output is None:
        raise UsageError(f"--format {fmt} needs -o FILE")
    if neutralise_formulas and fmt in ("json", "parquet"):
        raise UsageError(f"--neutralise-formulas is for csv and hxl (--format {fmt} carries types of its own)")
    if bom and fmt not in ("csv", "hxl"):
        raise UsageError(f"--bom is for csv and hxl (--format {fmt} is not read as text by a spreadsheet)")
    published = readable_table(ctx.store, name, reader)
    if validate:
        from passage.publish.hxl import validate as hxl_validate

        problems = hxl_validate(published)
        if problems:
            for p in problems[:20]:
                click.echo(f"HXL: {p['tag']} row {p['row']}: {p['message']} ({p['value']})", err=True)
            sys.exit(1)
    if output is None or ctx.quiet:
        write(published, fmt, output, sys.stdout if output is None else None, neutralise_formulas=neutralise_formulas,
              bom=bom)
        return
    with click.progressbar(length=published.data.num_rows, label=f"export {name}", file=sys.stderr) as bar:
        write(published, fmt, output, progress=bar.update, neutralise_formulas=neutralise_formulas, bom=bom)
    click.echo(f"{published.data.num_rows} rows written to {output}", err=True)


# ---- datasets and releases -------------------------------------------------------------------------------

@main.group()
def datasets() -> None:
    """Datasets (a pack's records with HDX metadata), their visibility and releases."""


@datasets.command("list")
@pass_ctx
def datasets_list(ctx) -> None:
    """List datasets with their visibility and latest release per country.

    \b
    Example:
      passage datasets list
    """
    from passage.releases import list_datasets, releases

    rows = []
    for d in list_datasets(ctx.store):
        latest = {r["country_code"]: r["published_at"] for r in reversed(releases(ctx.store, dataset=d.name,
                                                                                     limit=1000))}
        rows.append((d.name, d.visibility, d.title, ", ".join(f"{c} {str(t)[:16]}" for c, t in sorted(latest.items()))
                     or "not released"))
    table(["dataset", "visibility", "title", "released"], rows)


@datasets.command("visibility")
@click.argument("name")
@click.argument("visibility", type=click.Choice(["public", "restricted"]))
@pass_ctx
def datasets_visibility(ctx, name: str, visibility: str) -> None:
    """Make a dataset public (anyone reads its releases) or restricted (signed-in users of its places).

    \b
    Example:
      passage datasets visibility site_visits restricted
    """
    from passage.releases import set_visibility

    set_visibility(ctx.store, name, visibility, principal=ctx.principal)
    click.echo(f"{name} is {visibility}")


@datasets.command("unpublish")
@click.argument("name")
@click.option("--country", "countries", multiple=True, required=True, help="ISO 3166 alpha-3 code (repeatable).")
@pass_ctx
def datasets_unpublish(ctx, name: str, countries: tuple[str, ...]) -> None:
    """Withdraw every release of a dataset for countries: readers without edit rights no longer see their
    records until they are published again (each withdrawal is audited as release.withdraw).

    \b
    Example:
      passage datasets unpublish site_visits --country TCD
    """
    from passage.releases import unpublish

    for iso3 in countries:
        n = unpublish(ctx.store, name, iso3.upper(), principal=ctx.principal)
        click.echo(f"{name} unpublished for {iso3.upper()} ({n} release{'' if n == 1 else 's'} withdrawn)")


@datasets.command("withdraw")
@click.argument("release_id", type=int)
@pass_ctx
def datasets_withdraw(ctx, release_id: int) -> None:
    """Withdraw one release: readers see its country as the release before it showed it, or not at all.

    \b
    Example:
      passage datasets withdraw 42
    """
    from passage.releases import withdraw

    r = withdraw(ctx.store, release_id, principal=ctx.principal)
    click.echo(f"release {release_id} withdrawn: {r['dataset']} for {r['country_code']}")


@main.command("publish")
@click.argument("dataset")
@click.option("--country", "countries", multiple=True, required=True, help="ISO 3166 alpha-3 code (repeatable).")
@click.option("--note", help="Shown with the release.")
@pass_ctx
def publish_cmd(ctx, dataset: str, countries: tuple[str, ...], note: str | None) -> None:
    """Release a dataset for countries as it stands now: readers without edit rights see this state.

    \b
    Example:
      passage --user amina publish site_visits --country NGA --note "Round 46"
    """
    from passage.releases import publish

    for iso3 in countries:
        click.echo(f"release {publish(ctx.store, dataset, iso3.upper(), principal=ctx.principal, note=note)}: "
                   f"{dataset} for {iso3.upper()}")


@main.command("unpublish")
@click.argument("dataset")
@click.option("--country", "countries", multiple=True, required=True, help="ISO 3166 alpha-3 code (repeatable).")
@pass_ctx
def unpublish_cmd(ctx, dataset: str, countries: tuple[str, ...]) -> None:
    """Withdraw every release of a dataset for countries: readers without edit rights see none of their records
    until `passage publish` again.

    \b
    Example:
      passage unpublish site_visits --country NGA
    """
    from passage.releases import unpublish

    for iso3 in countries:
        n = unpublish(ctx.store, dataset, iso3.upper(), principal=ctx.principal)
        click.echo(f"{dataset} for {iso3.upper()}: {n} release(s) withdrawn")


# ---- the portal ----------------------------------------------------------------------------------------

@main.command("serve")
@click.option("--host", default=None, help=f"Address to listen on (setting server.host; default {DEFAULTS.server.host}).")
@click.option("--port", default=None, type=int, help=f"Port to listen on (setting server.port; default "
                                                     f"{DEFAULTS.server.port}).")
@click.option("--demo/--no-demo", default=None,
              help="Load the demo data (records, documents, users and releases) when the store has no records "
                   "(setting demo.seed; default --demo).")
@click.option("--dir", "work_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the demo's files and generated accounts are written (setting demo.dir; default: the "
                   "store's own folder, passage-demo beside passage.duckdb, passage-demo-pg-HOST-PORT-DB-SCHEMA "
                   "for PostgreSQL). A folder holding another store's demo is refused.")
@click.option("--secure-cookies/--no-secure-cookies", default=None,
              help="Mark cookies Secure (setting server.secure_cookies; default: when the request came over HTTPS).")
@click.option("--export-cache-mb", type=click.IntRange(min=0), default=None,
              help="Disk space for cached downloads, in MiB; the least recently used files are removed first "
                   f"(setting cache.export_bytes; default {DEFAULTS.cache.export_bytes // 2**20}).")
@pass_ctx
def serve_cmd(ctx, host: str | None, port: int | None, demo: bool | None, work_dir: Path | None,
              secure_cookies: bool | None, export_cache_mb: int | None) -> None:
    """Run the portal and the API (server-rendered pages, /api/v1, OpenAPI at /api/docs).

    Each option overrides its settings key, which may also come from a PASSAGE_* variable or passage.toml
    (`passage settings` shows them).

    \b
    Examples:
      passage serve                                  # demo data on first run, http://127.0.0.1:8000/
      passage --db postgresql://127.0.0.1:5432/test serve --port 8080
      passage users add amina --role editor --scope NGA   # then sign in as amina
    """
    import uvicorn

    from passage.demo_portal import chosen_folder, needs_demo, own_accounts, save_cli_token, seed_portal
    from passage.web.app import create_app

    ctx.given({"server.host": ("--host", host), "server.port": ("--port", port),
               "demo.seed": ("--demo" if demo else "--no-demo", demo), "demo.dir": ("--dir", work_dir),
               "server.secure_cookies": ("--secure-cookies" if secure_cookies else "--no-secure-cookies",
                                         secure_cookies),
               "cache.export_bytes": ("--export-cache-mb", None if export_cache_mb is None else export_cache_mb * 2**20)})
    settings = ctx.settings
    # The store's own demo folder, so one store's demo accounts never overwrite another's (demo_portal.py).
    work_dir = chosen_folder(ctx.store, settings)
    if settings.demo.seed and needs_demo(ctx.store):
        click.echo("first run: loading the demo data…", err=True)
        made = seed_portal(ctx.store, work_dir, progress=lambda m: ctx.quiet or click.echo(f"  {m}", err=True))
        if ctx.store_file and "admin" in made["accounts"]:  # commands in a second terminal run through the portal
            save_cli_token(ctx.store, work_dir)
    accounts = own_accounts(ctx.store, work_dir) if settings.demo.seed else None
    if accounts is not None:
        click.echo(f"demo accounts (user, role, places, password): {accounts}")
        click.echo(accounts.read_text(encoding="utf-8").rstrip())
    ctx.close()
    ctx._store = None
    app = create_app(settings.db, settings)
    host, port = settings.server.host, settings.server.port
    url = f"http://{host}:{port}"
    duckdb_file = ctx.store_file  # other commands find the portal here while it holds the file
    if duckdb_file:
        from passage.store.duckdb import forget_holder, record_holder

        local = "127.0.0.1" if host in ("0.0.0.0", "::", "") else f"[{host}]" if ":" in host else host
        record_holder(duckdb_file, f"http://{local}:{port}")
    click.echo(f"Passage is running at {url}/  (API: {url}/api/docs; Ctrl+C stops)")
    # uvicorn shuts down gracefully on SIGTERM and then raises it again: end as SystemExit, so the holder file goes
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        if duckdb_file:
            forget_holder(duckdb_file)
