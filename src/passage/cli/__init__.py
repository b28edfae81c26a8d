"""The `passage` command: thin wrappers over library calls.

Exit codes (a contract other tools rely on): 0 success, 1 rejected input or a
store problem (the report goes to stderr), 2 usage errors.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from passage.errors import ImportRejected, NotFound, PassageError, StoreError, UsageError
from passage.settings import DEFAULT_DB, Settings, load_settings
from passage.store import open_store


class Ctx:
    def __init__(self, db: str | None, user: str | None, quiet: bool, *, archive: Path | None = None,
                 config: Path | None = None, url: str | None = None, token: str | None = None):
        self.user, self.quiet, self.config = user, quiet, config
        self.url, self.token = url, token  # a running portal to run commands through (cli/remote.py)
        self.options: dict[str, tuple[str, Any]] = {"db": ("--db", db), "archive": ("--archive", archive)}
        self._settings: Settings | None = None
        self._store = None
        self._principal = None
        self.engine, self.snapshot = "store", None  # --engine, --snapshot (cli/engine.py)

    def given(self, options: dict[str, tuple[str, Any]]) -> None:
        """A command's own options for settings keys ({"server.port": ("--port", 8080)}), before settings are read."""
        assert self._settings is None, "settings already read"
        self.options.update(options)

    @property
    def settings(self) -> Settings:
        """Read once, on first use: options, then PASSAGE_* variables, then the config file, then defaults."""
        if self._settings is None:
            self._settings = load_settings(self.options, config=self.config)
        return self._settings

    @property
    def db(self) -> str:
        return self.settings.db

    @property
    def store(self):
        """The store, opened on first use. With --url, or when a running portal holds the DuckDB file, the
        command runs through the portal's API instead (`passage.cli.remote`)."""
        if self._store is None:
            from passage.cli.remote import ThroughPortal
            from passage.store.duckdb import StoreLocked

            if self.url:
                raise ThroughPortal(click.get_current_context(silent=True))
            if self.engine != "store":  # --engine spark: a snapshot, read-only (cli/engine.py)
                from passage.cli.engine import engine_store

                self._store = engine_store(self)
                return self._store
            try:
                self._store = open_store(self.db, self.settings)
            except StoreLocked as exc:
                raise ThroughPortal(click.get_current_context(silent=True), exc) from None
        return self._store

    @property
    def store_file(self) -> str | None:
        """The DuckDB store's file, or None for PostgreSQL and in-memory stores."""
        db = self.db
        return None if db.startswith(("postgresql://", "postgres://")) or db == ":memory:" else db

    @property
    def principal(self):
        """Who acts: the user named by --user, with their role and places; without --user the store's
        operator (`auth.OPERATOR`, an admin, audited as `operator`). A name the store does not know is a
        usage error, never an admin."""
        from passage.auth import OPERATOR
        from passage.auth.users import get_principal

        if self._principal is None:
            if not self.user:
                self._principal = OPERATOR
            elif not self.store.scalar("SELECT count(*) FROM users WHERE user_name = ?", [self.user.lower()]):
                raise UsageError(f"no user {self.user!r} in this store: see `passage users list`",
                                 code="usage.user")
            else:
                self._principal = get_principal(self.store, self.user.lower())
        return self._principal

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


class PassageGroup(click.Group):
    """Turns Passage's errors into messages and exit codes, at the edge and nowhere else."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        rest = super().parse_args(ctx, args)
        ctx.meta["passage.rest"] = [*getattr(ctx, "_protected_args", []), *rest]  # the command, for messages
        return rest

    def invoke(self, ctx: click.Context):
        from passage.cli.remote import ThroughPortal, run

        try:
            try:
                return super().invoke(ctx)
            except ThroughPortal as through:
                return run(ctx.obj, through)
        except ImportRejected as exc:  # a record edit, or an XLSForm that does not compile
            from passage.cli.render import accepted
            from passage.errors import EditRejected
            from passage.findings import Outcome

            accepted(Outcome(exc.report), outcome="nothing was changed" if isinstance(exc, EditRejected)
                     else "nothing was imported")
        except (UsageError, NotFound) as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(2)
        except (StoreError, PassageError) as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(1)


@click.group(cls=PassageGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--db", default=None,
              help=f"Store: a DuckDB file path or a postgresql:// URL (setting db, $PASSAGE_DB; default {DEFAULT_DB}).")
@click.option("--archive", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for archived raw files (setting archive, $PASSAGE_ARCHIVE; default: beside a DuckDB "
                   "store, ./passage.files for PostgreSQL).")
@click.option("--config", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Settings file (TOML; default: $PASSAGE_CONFIG, else ./passage.toml when present). "
                   "`passage settings` shows what applies.")
@click.option("--user", default=None, envvar="PASSAGE_USER",
              help="Who is acting: a user of the store, whose role and places apply (recorded with every change; "
                   "default: the store's operator, an admin).")
@click.option("--url", default=None, envvar="PASSAGE_URL",
              help="Run the command through the portal at this URL (its API), as the user of --token. Without it, "
                   "a command that finds a running portal holding the DuckDB store runs through that portal.")
@click.option("--token", default=None, envvar="PASSAGE_TOKEN",
              help="API token for commands run through a portal ($PASSAGE_TOKEN; default: the store's token file, "
                   "`passage users tokens create USER --name cli --save`).")
@click.option("--engine", type=click.Choice(["store", "spark"]), default="store", envvar="PASSAGE_ENGINE",
              show_default=True, help="Where measures and exports run: the store itself, or Spark over a Parquet "
                                      "snapshot of it (--snapshot; read-only; docs/scale-out.md).")
@click.option("--snapshot", default=None, envvar="PASSAGE_SNAPSHOT",
              help="With --engine spark: the folder `passage snapshot -o DIR` wrote (a path or a URL Spark reads).")
@click.option("-q", "--quiet", is_flag=True, help="No progress output.")
@click.version_option(package_name="passage")
@click.pass_context
def main(ctx: click.Context, db: str | None, archive: Path | None, config: Path | None, user: str | None,
         url: str | None, token: str | None, engine: str, snapshot: str | None, quiet: bool) -> None:
    """Passage: data on human mobility and displacement.

    \b
    Examples:
      passage serve                                 # the portal; a new store gets every pack's demo data
      passage places import global-pcodes-adm-1-2.csv --lengths global-pcode-lengths.csv
      passage forms install site_visit.xlsx
      passage import xlsform-data --form site_visit export.csv --report errors.json
      passage packs list                            # the installed packs: their commands are listed below
    """
    state = Ctx(db, user, quiet, archive=archive, config=config, url=url, token=token)
    state.engine, state.snapshot = engine, snapshot
    ctx.obj = state
    ctx.call_on_close(state.close)


from passage.cli import (
    backup,  # noqa: F401  (registers `backup`, `restore` and `copy`)
    commands,  # noqa: F401  (registers the commands)
    documents,  # noqa: F401
    migrate,  # noqa: F401  (registers `migrate`)
    packs,  # noqa: F401  (registers `packs list` and `packs check`)
    quarantine,  # noqa: F401  (registers `quarantine`)
    settings,  # noqa: F401  (registers `settings`)
    users,  # noqa: F401  (registers `users` and `audit`)
)
from passage.cli import engine as engine_cli  # noqa: F401  (registers `snapshot`)
from passage.plugins import manager

manager().hook.cli(main=main)  # every installed pack adds its commands and groups
