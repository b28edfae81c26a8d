"""`passage demo`: the DTM pipeline alone, on generated DTM-shaped files."""

from __future__ import annotations

from pathlib import Path

import click

from passage.settings import DEFAULTS


@click.command("demo")
@click.option("--dir", "work_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help=f"Where the generated DTM-shaped files are written (setting demo.dir; default {DEFAULTS.demo.dir}).")
@click.pass_obj
def demo_cmd(ctx, work_dir: Path | None) -> None:
    """Generate realistic DTM-shaped data over real P-codes, import it, print headline figures."""
    from passage.packs.dtm.demo import format_headline, run_demo

    ctx.given({"demo.dir": ("--dir", work_dir)})
    click.echo(format_headline(run_demo(ctx.store, ctx.settings.demo.dir)))
