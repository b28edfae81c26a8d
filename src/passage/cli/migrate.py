"""`passage migrate`: bring a store made by an earlier Passage up to this one's migrations."""

from __future__ import annotations

import click

from passage.cli import main
from passage.cli.render import table


def _summary(m) -> str:
    return m.description.split("\n\n")[0].replace("\n", " ")


@main.command("migrate")
@click.option("--dry-run", is_flag=True, help="List the migrations that would run; change nothing.")
@click.option("--status", "show_status", is_flag=True,
              help="Show where the store stands, for the core and each pack; change nothing.")
@click.pass_obj
def migrate_command(ctx, dry_run: bool, show_status: bool) -> None:
    """Apply the store migrations this Passage has and the store lacks, in order, each in its own transaction
    with an audit-log entry. Back the store up first (copy the DuckDB file; pg_dump the schema).

    A store with pending migrations is refused by every other command until this has run; a store migrated
    by a newer Passage is refused here too.

    \b
    Examples:
      passage migrate --status
      passage migrate --dry-run
      passage --user admin migrate
    """
    from passage.cli.remote import opened_here
    from passage.store.migrations import migrate, status

    with opened_here(ctx, migrating=True) as store:
        if show_status:
            levels = status(store)
            rows = []
            for pack in sorted(set(levels.applied) | set(levels.migrations)):
                at, latest = levels.applied.get(pack, 0), levels.latest(pack)
                state = ("not installed" if pack not in levels.migrations else "store is newer" if at > latest
                         else f"{latest - at} pending" if at < latest else "up to date")
                rows.append((pack, at, latest if pack in levels.migrations else "", state))
            table(["part", "store", "this passage", "state"], rows)
            for m in levels.pending():
                click.echo(f"pending: {m.label}: {_summary(m)}")
            return
        done = migrate(store, dry_run=dry_run, user=ctx.user)
        if not done:
            click.echo("nothing to migrate: the store is at this Passage's latest migrations")
        for applied in done:
            m = applied.migration
            if dry_run:
                click.echo(f"would apply {m.label}: {_summary(m)}")
            elif applied.ran:
                counts = ", ".join(f"{k} {v}" for k, v in applied.detail.items())
                click.echo(f"applied {m.label}" + (f" ({counts})" if counts else ""))
            else:
                click.echo(f"{m.label}: applied meanwhile by another process")
