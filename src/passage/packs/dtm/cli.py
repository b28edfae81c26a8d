"""`passage demo`: the DTM pipeline alone, on generated DTM-shaped files."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("demo")
@click.option("--dir", "work_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the generated DTM-shaped files are written (setting demo.dir; default: the store's own demo "
                   "folder, passage-demo beside passage.duckdb).")
@click.pass_obj
def demo_cmd(ctx, work_dir: Path | None) -> None:
    """Generate realistic DTM-shaped data over real P-codes, import it, print headline figures."""
    from passage.demo_portal import chosen_folder, claim_folder
    from passage.packs.dtm.demo import format_headline, run_demo

    ctx.given({"demo.dir": ("--dir", work_dir)})
    folder = claim_folder(ctx.store, chosen_folder(ctx.store, ctx.settings))  # never another store's demo folder
    click.echo(format_headline(run_demo(ctx.store, folder)))
