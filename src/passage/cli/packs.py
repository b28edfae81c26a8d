"""`passage packs`: the installed packs, and checking a pack's files before it is installed."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from passage.cli import main
from passage.cli.render import rows_out
from passage.errors import PackError


@main.group()
def packs() -> None:
    """Packs: the plugins that bring forms, importers, indicators, datasets and pages."""


@packs.command("list")
@click.option("--format", "fmt", type=click.Choice(["table", "csv"]), default="table", show_default=True)
def packs_list(fmt: str) -> None:
    """The installed packs, each after the packs it requires: name, title, the version of the distribution
    that provides it, its folder, its forms and its import kinds.

    \b
    Example:
      passage packs list --format csv
    """
    from passage.packmodel import installed_packs

    rows = [(p.name, p.title, f"{p.distribution} {p.version}".strip(), p.folder, " ".join(p.forms),
             " ".join(p.import_kinds)) for p in installed_packs()]
    rows_out(["name", "title", "version", "folder", "forms", "import_kinds"], rows, fmt)


@packs.command("check")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
def packs_check(path: Path) -> None:
    """Check a pack folder (or its pack.yaml): every key and type, the forms it lists (compiled), its indicator
    files, and what its names refer to. Exit code 0 with a summary; 1 with every problem, each located by file
    and key path (docs/pack-yaml.md describes the keys).

    \b
    Example:
      passage packs check src/passage/packs/my_pack
    """
    from passage.packmodel import check_pack

    try:
        summary = check_pack(path)
    except PackError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        click.echo(f"{len(exc.problems)} problem(s): the pack would not load.", err=True)
        sys.exit(1)
    for line in summary.lines():
        click.echo(line)
