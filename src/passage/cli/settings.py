"""`passage settings`: the effective settings and where each came from."""

from __future__ import annotations

import click

from passage.cli import main
from passage.cli.render import rows_out


@main.command("settings")
@click.option("--format", "fmt", type=click.Choice(["table", "csv"]), default="table", show_default=True)
@click.pass_obj
def settings_cmd(ctx, fmt: str) -> None:
    """Show every setting, its value and where it came from: an option, an environment variable (env), the
    config file (file) or the default. A password in the store's URL is masked.

    Precedence: option > PASSAGE_* variable > config file (--config, $PASSAGE_CONFIG, else ./passage.toml)
    > default. docs/operations.md lists every key.

    \b
    Examples:
      passage settings
      PASSAGE_SERVER__PORT=8080 passage --config /etc/passage.toml settings --format csv
    """
    rows_out(["key", "value", "source"], ctx.settings.shown(), fmt)
