"""`passage offices …` and `passage questionnaire …`: the office list, the yearly questionnaire's workflow,
participation and figures."""

from __future__ import annotations

from pathlib import Path

import click

from passage.cli.render import rows_out, table

pass_ctx = click.pass_obj
FORMATS = click.Choice(["table", "csv"])


# ---- offices ------------------------------------------------------------------------------------------------

@click.group()
def offices() -> None:
    """Offices: headquarters, regional offices and country offices (places of kind office)."""


@offices.command("import")
@click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_ctx
def offices_import(ctx, file: Path | None) -> None:
    """Import an office list (CSV: code,name,kind,parent,iso3); the pack's list when no FILE is given.

    \b
    Example:
      passage offices import offices.csv
    """
    from passage.cli.render import accepted
    from passage.packs.institutional.offices import default_offices_csv, import_offices

    path = file or default_offices_csv()
    click.echo(f"{accepted(import_offices(ctx.store, path, user=ctx.user)).value} offices imported from {path.name}")


@offices.command("list")
@click.option("--region", help="A regional office's code, e.g. RO-DKR: that office and its country offices.")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@pass_ctx
def offices_list(ctx, region: str | None, fmt: str) -> None:
    """List offices.  Example: passage offices list --region RO-DKR"""
    from passage.packs.institutional.offices import list_offices

    rows = [(o.code, o.kind, o.name, o.parent or "", o.iso3, o.region or "") for o in list_offices(ctx.store, region)]
    rows_out(["code", "kind", "name", "parent", "iso3", "region"], rows, fmt)


# ---- questionnaire ------------------------------------------------------------------------------------------

@click.group()
def questionnaire() -> None:
    """The yearly office questionnaire: answers, workflow (draft, submitted, approved, locked), figures."""


@questionnaire.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--update", is_flag=True, help="Make new versions of draft answers already in the store.")
@pass_ctx
def questionnaire_import(ctx, files: tuple[Path, ...], update: bool) -> None:
    """Import answers: a KoboToolbox/ODK export (CSV or XLSX) of the questionnaire form.

    Rows for questionnaires that are no longer drafts are refused (reopen them first).

    \b
    Example:
      passage questionnaire import export.xlsx --update
    """
    from passage.cli.render import accepted
    from passage.packs.institutional import import_answers

    result = accepted(import_answers(ctx.store, list(files), principal=ctx.principal, update=update))
    click.echo(f"import {result.import_id or result.previous_import}: {result.status}, {result.inserted} new, "
               f"{result.updated} changed, {result.unchanged} unchanged")


@questionnaire.command("status")
@click.option("--year", type=int, required=True)
@click.option("--region", help="Only this regional office's offices.")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@pass_ctx
def questionnaire_status(ctx, year: int, region: str | None, fmt: str) -> None:
    """Every office's questionnaire state for a year.  Example: passage questionnaire status --year 2020"""
    from passage.packs.institutional import states
    from passage.packs.institutional.offices import list_offices

    now = states(ctx.store, year)
    rows = [(o.code, o.name, o.region or "", now.get(o.code, "not_started"))
            for o in list_offices(ctx.store, region) if o.kind != "hq"]
    rows_out(["office", "name", "region", "state"], rows, fmt)


def _action(name: str, doc: str):
    @questionnaire.command(name, help=doc)
    @click.argument("office")
    @click.option("--year", type=int, required=True)
    @pass_ctx
    def command(ctx, office: str, year: int) -> None:
        from passage.packs.institutional import act

        state = act(ctx.store, name, office.upper(), year, ctx.principal)
        click.echo(f"{office.upper()} {year}: {state}")

    return command


_action("submit", "Submit an office's questionnaire (all mandatory questions answered).\n\n"
        "Example: passage --user editor-co-nga questionnaire submit CO-NGA --year 2020")
_action("approve", "Approve a submitted questionnaire (its regional office, or headquarters for a regional "
        "office).\n\nExample: passage --user approver-dkr questionnaire approve CO-NGA --year 2020")
_action("lock", "Lock an approved questionnaire (headquarters): final for the annual report.\n\n"
        "Example: passage questionnaire lock CO-NGA --year 2020")


@questionnaire.command("reopen")
@click.argument("office")
@click.option("--year", type=int, required=True)
@click.option("--reason", required=True, help="Why: written to the history and the audit log.")
@pass_ctx
def questionnaire_reopen(ctx, office: str, year: int, reason: str) -> None:
    """Send a submitted, approved or locked questionnaire back to draft.

    \b
    Example:
      passage questionnaire reopen CO-NGA --year 2020 --reason "reintegration totals double-counted"
    """
    from passage.packs.institutional import reopen

    click.echo(f"{office.upper()} {year}: {reopen(ctx.store, office.upper(), year, ctx.principal, reason)}")


@questionnaire.command("history")
@click.argument("office")
@click.option("--year", type=int, required=True)
@pass_ctx
def questionnaire_history(ctx, office: str, year: int) -> None:
    """Every state change of one office's questionnaire, with who, when and why."""
    from passage.packs.institutional.workflow import history

    table(["when", "action", "from", "to", "user", "version", "reason"],
          [(e.occurred_at, e.action, e.from_state or "", e.to_state, e.user or "", e.record_version or "",
            e.reason or "") for e in history(ctx.store, office.upper(), year)])


@questionnaire.command("participation")
@click.option("--year", type=int, required=True)
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.option("--missing", is_flag=True, help="List the offices that have not submitted instead.")
@pass_ctx
def questionnaire_participation(ctx, year: int, fmt: str, missing: bool) -> None:
    """Participation by region: offices expected, submitted, approved, locked, rate.

    \b
    Example:
      passage questionnaire participation --year 2020 --format csv
    """
    from passage.packs.institutional import participation

    p = participation(ctx.store, year)
    if missing:
        rows_out(["office", "name", "region", "state"],
                 [(m["code"], m["name"], m["region"] or "", m["state"]) for m in p.missing], fmt)
        return
    rows = [(r.region or "all", r.name, r.offices, r.submitted, r.approved, r.locked, r.drafts, r.not_started,
             "" if r.rate is None else round(r.rate, 4)) for r in [*p.regions, p.total]]
    rows_out(["region", "name", "offices", "submitted", "approved", "locked", "draft", "not_started", "rate"],
             rows, fmt)


@questionnaire.command("figures")
@click.option("--year", type=int, required=True)
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.option("--by-region", is_flag=True, help="One row per indicator and region.")
@pass_ctx
def questionnaire_figures(ctx, year: int, fmt: str, by_region: bool) -> None:
    """The pack's questionnaire indicators ("130 offices (77 %)"), with the year before where it was asked.

    \b
    Example:
      passage questionnaire figures --year 2020 --format csv
    """
    from passage.packs.institutional import indicator_values

    values = indicator_values(ctx.store, year)
    if by_region:
        rows = [(v.name, s.group, s.count, s.denominator, v.denominator_kind,
                 "" if s.share is None else round(s.share, 4), s.text)
                for v in values.values() for s in v.by_region]
        rows_out(["indicator", "region", "count", "denominator", "denominator_kind", "share", "text"], rows, fmt)
        return
    rows = []
    for v in values.values():
        before = v.prior.get(year - 1)
        rows.append((v.name, v.value, v.denominator, v.denominator_kind or "",
                     "" if v.share is None else round(v.share, 4), v.text, "" if before is None else before,
                     "" if v.change is None else v.change, v.record_count))
    rows_out(["indicator", "value", "denominator", "denominator_kind", "share", "text", "previous_year", "change",
              "records"], rows, fmt)
