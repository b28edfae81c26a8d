"""`passage travel …`: daily status, summary, comparison, headline figures and a country's timeline."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import click

from passage.cli.render import table, write_csv

pass_ctx = click.pass_obj
FORMAT = click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table",
                      show_default=True, help="table for people, csv or json for programs.")
DAY = click.option("--date", "day", required=True, metavar="YYYY-MM-DD", help="The day to look at.")


def _json(value: Any) -> None:
    click.echo(json.dumps(value, default=lambda v: v.isoformat() if isinstance(v, date) else str(v), indent=1,
                          ensure_ascii=False))


def _sources(text: str | None) -> list[str] | None:
    return [s.strip() for s in text.split(",") if s.strip()] if text else None


@click.group()
def travel() -> None:
    """Travel measures and points of entry: status per country and source, comparison, headline figures.

    \b
    Examples:
      passage import oxcgrt c8_internationaltravel.csv
      passage travel status --date 2020-04-15 --source oxcgrt --format csv
      passage travel compare --date 2020-04-15 --sources oxcgrt,acaps
    """


@travel.command("status")
@DAY
@click.option("--source", help="Only this source (oxcgrt, cobap, acaps, iom, …).")
@FORMAT
@pass_ctx
def status_cmd(ctx, day: str, source: str | None, fmt: str) -> None:
    """One row per country and source: iso3, date, source, native_value, status.

    \b
    Example:
      passage travel status --date 2020-04-15 --format csv > status.csv
    """
    from passage.packs.travel import CSV_COLUMNS, daily_status

    rows = daily_status(ctx.store, day, source=source)
    if fmt == "json":
        return _json([r.as_dict() for r in rows])
    out = [[getattr(r, c) for c in CSV_COLUMNS] for r in rows]
    (write_csv if fmt == "csv" else table)(list(CSV_COLUMNS), out)


@travel.command("summary")
@DAY
@click.option("--sources", help="Comma-separated sources (default: all).")
@FORMAT
@pass_ctx
def summary_cmd(ctx, day: str, sources: str | None, fmt: str) -> None:
    """Countries per status and source on a day.  Example: passage travel summary --date 2020-04-15"""
    from passage.packs.travel import summary

    rows = summary(ctx.store, day, _sources(sources))
    if fmt == "json":
        return _json(rows)
    names = ["date", "source", "status", "countries"]
    (write_csv if fmt == "csv" else table)(names, [[r[n] for n in names] for r in rows])


@travel.command("compare")
@DAY
@click.option("--sources", required=True, metavar="A,B", help="The two sources to compare, e.g. oxcgrt,acaps.")
@FORMAT
@pass_ctx
def compare_cmd(ctx, day: str, sources: str, fmt: str) -> None:
    """Agreement matrix, agreement rate, Cohen's kappa and the countries where two sources disagree.

    \b
    csv prints one row per country both sources cover (with agree = True/False).
    Example:
      passage travel compare --date 2020-04-15 --sources oxcgrt,acaps
    """
    from passage.packs.travel import STATUSES, compare

    res = compare(ctx.store, day, _sources(sources) or [])
    a, b = res["sources"]
    if fmt == "json":
        return _json(res)
    if fmt == "csv":
        names = ["iso3", "date", f"{a}_status", f"{b}_status", f"{a}_native_value", f"{b}_native_value", "agree"]
        return write_csv(names, [[p["iso3"], res["date"], p["status_a"], p["status_b"], p["native_value_a"],
                                  p["native_value_b"], p["agree"]] for p in res["pairs"]])
    click.echo(f"{a} (rows) vs {b} (columns) on {res['date']}: {res['countries']} countries covered by both")
    table([f"{a} \\ {b}", *STATUSES], [[s, *(res["matrix"][s][t] for t in STATUSES)] for s in STATUSES])
    rate = "-" if res["agreement_rate"] is None else f"{res['agreement_rate']:.1%}"
    kappa = "undefined" if res["kappa"] is None else f"{res['kappa']:.3f}"
    click.echo(f"\nagreement: {res['agreed']}/{res['countries']} ({rate}); Cohen's kappa: {kappa}")
    if res["disagreements"]:
        click.echo("\nWhere they disagree:")
        table(["iso3", f"{a}", f"{b}", f"{a} native", f"{b} native"],
              [[p["iso3"], p["status_a"], p["status_b"], p["native_value_a"], p["native_value_b"]]
               for p in res["disagreements"]])


@travel.command("headline")
@DAY
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--records", is_flag=True, help="With --format json: the record ids behind every figure.")
@pass_ctx
def headline_cmd(ctx, day: str, fmt: str, records: bool) -> None:
    """Measures in force, entry restrictions vs conditions, PoE operational status shares on a day.

    \b
    Example:
      passage travel headline --date 2020-12-29
    """
    from passage.packs.travel import headline
    from passage.packs.travel.headline import without_record_ids

    h = headline(ctx.store, day)
    if fmt == "json":
        return _json(h if records else without_record_ids(h))
    click.echo(f"Travel measures in force on {h['date']}:")
    rows = []
    for source, m in h["measures"].items():
        rows.append([source, "all travel measures", m["measures"], m["countries"]])
        for cat, c in m["categories"].items():
            rows.append([source, cat, c["measures"], c["countries"]])
        for group, c in m["condition_groups"].items():
            rows.append([source, f"entry_condition: {group}", c["measures"], c["countries"]])
    table(["source", "measures", "in force", "countries"], rows)
    poe = h["points_of_entry"]
    click.echo(f"\nPoints of entry: {poe['overall']['assessed']} assessed of {poe['overall']['registered']} registered")
    prow = []
    for label, block in [("all", poe["overall"]), *poe["by_type"].items()]:
        for status, s in block["statuses"].items():
            share = "-" if s["share"] is None else f"{s['share']:.1%}"
            prow.append([label, status, s["poes"], share])
    table(["PoE type", "operational status", "PoEs", "share"], prow)


@travel.command("timeline")
@click.argument("iso3")
@click.option("--from", "date_from", metavar="YYYY-MM-DD", help="First day (default: the country's first data).")
@click.option("--to", "date_to", metavar="YYYY-MM-DD", help="Last day (default: the country's last data).")
@click.option("--sources", help="Comma-separated sources (default: all).")
@FORMAT
@pass_ctx
def timeline_cmd(ctx, iso3: str, date_from: str | None, date_to: str | None, sources: str | None, fmt: str) -> None:
    """A country's status per source over time (runs of days), then its measures.

    \b
    Example:
      passage travel timeline ITA --from 2020-01-01 --to 2020-12-31
    """
    from passage.packs.travel import timeline

    t = timeline(ctx.store, iso3, date_from, date_to, sources=_sources(sources))
    if fmt == "json":
        return _json(t)
    names = ["source", "from", "to", "days", "status", "native_value"]
    runs = [[r[n] for n in names] for r in t["runs"]]
    if fmt == "csv":
        return write_csv(names, runs)
    click.echo(f"{t['iso3']} from {t['from'] or '-'} to {t['to'] or '-'}")
    table(names, runs)
    if t["measures"]:
        click.echo(f"\n{len(t['measures'])} measures:")
        cols = ["source", "source_id", "category", "subcategory", "action", "date_in_force", "date_lifted",
                "native_measure", "record_id"]
        table(cols, [[m[c] for c in cols] for m in t["measures"]])
