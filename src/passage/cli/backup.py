"""`passage backup`, `passage restore`, `passage copy`: a whole store to one file and back, or to another store."""

from __future__ import annotations

from pathlib import Path

import click

from passage.cli import main

pass_ctx = click.pass_obj


def said(manifest, what: str) -> str:
    rows = sum(t["rows"] for t in manifest.data["tables"])
    return (f"{what}: {len(manifest.data['tables'])} tables, {rows:,} rows, {len(manifest.files)} archived files "
            f"(generation {manifest.data['store']['generation']}, from {manifest.data['store']['kind']})")


@main.command("backup")
@click.option("-o", "--output", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The backup file to write (a zip: manifest.json, one Parquet file per table, the archived files).")
@pass_ctx
def backup_cmd(ctx, out: Path) -> None:
    """A consistent snapshot of the whole store, taken while others read and write it: every table (records with
    all their versions, users, tokens, releases, the audit log, workflow states, documents, boundaries) and the
    archive of source files, with a sha256 for each in the manifest. Admins only.

    \b
    Examples:
      passage backup -o passage-2026-12-05.zip
      passage --db postgresql://127.0.0.1:5432/test backup -o server.zip
    """
    from passage.store.backup import backup

    click.echo(said(backup(ctx.store, out, principal=ctx.principal), f"wrote {out}"))


@main.command("restore")
@click.argument("backup_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--to", "target", required=True,
              help="The new store to make: a DuckDB file path or a postgresql:// URL (an empty schema).")
@pass_ctx
def restore_cmd(ctx, backup_file: Path, target: str) -> None:
    """Rebuild a backup into a new, empty store (DuckDB or PostgreSQL), files into that store's archive folder
    (--archive). Every table and file is checked against its sha256 first.

    \b
    Examples:
      passage restore passage-2026-12-05.zip --to restored.duckdb
      passage --archive /srv/passage/files restore passage-2026-12-05.zip --to postgresql://db/passage
    """
    from passage.store.backup import restore

    click.echo(said(restore(backup_file, target, ctx.settings), f"restored {backup_file} into {target}"))


@main.command("copy")
@click.option("--to", "target", required=True, help="The new store: a DuckDB file path or a postgresql:// URL.")
@pass_ctx
def copy_cmd(ctx, target: str) -> None:
    """Move the store with everything in it (versions, releases, users, audit, workflow states, documents,
    boundaries, files) into a new store, e.g. from DuckDB to PostgreSQL when many processes must use it. Files go
    to the new store's default archive folder (beside a DuckDB file; ./passage.files for PostgreSQL).

    \b
    Examples:
      passage copy --to postgresql://127.0.0.1:5432/test
      passage --db postgresql://server/passage copy --to laptop.duckdb
    """
    from passage.store.backup import copy

    settings = ctx.settings.model_copy(update={"archive": None})  # the target's own: beside it, or ./passage.files
    click.echo(said(copy(ctx.store, target, settings, principal=ctx.principal), f"copied {ctx.db} to {target}"))
