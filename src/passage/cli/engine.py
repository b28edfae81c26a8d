"""`passage snapshot` and the global `--engine spark --snapshot DIR`: measures and exports run on Spark.

    passage snapshot -o snap/                                    # the store's current records as Parquet
    passage --engine spark --snapshot snap/ export households_by_district -o households_by_district.csv
    passage --engine spark --snapshot snap/ --user admin indicators show households_by_district --all
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from passage.cli import main
from passage.errors import UsageError

pass_ctx = click.pass_obj


def spark_master(ctx: Any) -> str | None:
    """The setting spark.master ($PASSAGE_SPARK__MASTER); else, under spark-submit, the master it was given
    (None); else local[2]."""
    if ctx.settings.spark.master:
        return ctx.settings.spark.master
    return None if os.environ.get("PYSPARK_GATEWAY_PORT") else "local[2]"


def engine_store(ctx: Any) -> Any:
    """The read-only store the engine chosen with --engine reads (`passage.engines.open_engine`)."""
    from passage.engines import open_engine

    if not ctx.snapshot:
        raise UsageError("--engine spark reads a snapshot: give --snapshot DIR ($PASSAGE_SNAPSHOT), written by "
                         "`passage snapshot -o DIR`", code="usage.engine")
    return open_engine(ctx.engine, ctx.snapshot, ctx.settings, master=spark_master(ctx))


@main.command("snapshot")
@click.option("-o", "--output", "out", required=True, type=click.Path(file_okay=True, path_type=Path),
              help="The folder to write (new, empty, or an older snapshot, replaced once the new one is complete).")
@pass_ctx
def snapshot_cmd(ctx, out: Path) -> None:
    """Write the store's current records as Parquet for `passage --engine spark --snapshot DIR`: a folder per
    form, partitioned by country (DIR/<form>/country=<ISO3>/part-0.parquet), the places and catalogue tables
    measures and exports read, and a manifest (generation, when, columns with their SQL types). It holds
    unpublished records: admins only. docs/scale-out.md: running it on a cluster.

    \b
    Examples:
      passage snapshot -o snap/
      passage --engine spark --snapshot snap/ export households_by_district -o households_by_district.csv
    """
    from passage.engines.snapshot import write_snapshot

    if ctx.engine != "store":
        raise UsageError("passage snapshot reads the store itself: run it without --engine", code="usage.engine")
    manifest = write_snapshot(ctx.store, out, principal=ctx.principal)
    tables = manifest["tables"]
    records = sum(t["rows"] for t in tables.values() if t["kind"] == "records")
    forms = sum(1 for t in tables.values() if t["kind"] == "records")
    click.echo(f"wrote {out}: {records:,} current records of {forms} forms and their repeats, "
               f"{len(tables) - forms} other tables (generation {manifest['store']['generation']}, "
               f"from {manifest['store']['kind']})")
