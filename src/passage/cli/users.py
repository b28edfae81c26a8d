"""`passage users …` and `passage audit`: accounts, roles, scopes, API tokens, and the audit log."""

from __future__ import annotations

import json
import os
import sys

import click

from passage.auth import ROLES
from passage.auth.tokens import MAX_DAYS
from passage.cli import main
from passage.cli.render import table

pass_ctx = click.pass_obj


def _read_password(from_stdin: bool) -> str:
    """From the first line of stdin, else $PASSAGE_PASSWORD, else a hidden prompt asked twice."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    from_env = os.environ.get("PASSAGE_PASSWORD")
    if from_env:
        return from_env
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


def _json(value) -> None:
    click.echo(json.dumps(value, indent=2, default=str))


def _when(value) -> str:
    return "" if value is None else str(value)[:19]


password_stdin = click.option("--password-stdin", is_flag=True,
                              help="Read the password from the first line of stdin (else $PASSAGE_PASSWORD, "
                                   "else a prompt).")


@main.group("users")
def users_group() -> None:
    """User accounts: roles (admin, editor, viewer), place scopes, passwords and API tokens."""


@users_group.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True,
              help="admin: everything; editor: changes data in its scopes; viewer: sees data in its scopes.")
@click.option("--scope", "scopes", multiple=True,
              help="An ISO3 country (NGA) or a P-code (NG002); repeat for more. Not for admins.")
@click.option("--display-name", help="The name shown in the portal.")
@click.option("--email")
@password_stdin
@pass_ctx
def users_add(ctx, name: str, role: str, scopes: tuple[str, ...], display_name: str | None, email: str | None,
              password_stdin: bool) -> None:
    """Create a user (passwords: at least 10 characters).

    \b
    Example:
      passage users add amina --role editor --scope NGA --scope TCD --display-name "Amina Bello"
      echo "$PASSWORD" | passage users add ops --role admin --password-stdin
    """
    from passage.auth import add_user

    add_user(ctx.store, name, _read_password(password_stdin), role, scopes, display_name=display_name,
             email=email, principal=ctx.principal)
    click.echo(f"user {name} added ({role}{': ' + ', '.join(sorted(s.upper() for s in scopes)) if scopes else ''})")


@users_group.command("list")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@pass_ctx
def users_list(ctx, fmt: str) -> None:
    """Every user with role, scopes and status.

    \b
    Example:
      passage users list --format json
    """
    from passage.access import STORE, require
    from passage.auth import list_users

    require(ctx.principal, "administer", STORE)
    users = list_users(ctx.store)
    if fmt == "json":
        _json(users)
        return
    table(["user_name", "role", "scopes", "status", "display_name", "email", "created_at"],
          [(u["user_name"], u["role"], " ".join(u["scopes"]), "disabled" if u["disabled"] else "active",
            u["display_name"], u["email"], _when(u["created_at"])) for u in users])


@users_group.command("set")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), help="A new role (becoming admin drops the scopes).")
@click.option("--scope", "scopes", multiple=True, help="Replaces the scopes; repeat for more.")
@click.option("--disable/--enable", "disabled", default=None,
              help="Disabling ends the user's sessions and revokes their API tokens for good.")
@click.option("--display-name")
@click.option("--email")
@pass_ctx
def users_set(ctx, name: str, role: str | None, scopes: tuple[str, ...], disabled: bool | None,
              display_name: str | None, email: str | None) -> None:
    """Change a user's role, scopes, status or details.

    \b
    Example:
      passage users set amina --role viewer --scope NG002 --scope NG008
      passage users set amina --disable
    """
    from passage.auth import update_user

    update_user(ctx.store, name, role=role, scopes=scopes or None, display_name=display_name, email=email,
                disabled=disabled, principal=ctx.principal)
    click.echo(f"user {name} updated")


@users_group.command("disable")
@click.argument("name")
@pass_ctx
def users_disable(ctx, name: str) -> None:
    """Disable a user: their sessions end and their API tokens are revoked for good (`users enable` undoes
    the first; `users set NAME --disable` is the same).

    \b
    Example:
      passage users disable amina
    """
    from passage.auth import update_user

    update_user(ctx.store, name, disabled=True, principal=ctx.principal)
    click.echo(f"user {name} disabled")


@users_group.command("enable")
@click.argument("name")
@pass_ctx
def users_enable(ctx, name: str) -> None:
    """Enable a disabled user again (they sign in with their password; their old tokens stay revoked).

    \b
    Example:
      passage users enable amina
    """
    from passage.auth import update_user

    update_user(ctx.store, name, disabled=False, principal=ctx.principal)
    click.echo(f"user {name} enabled")


@users_group.command("password")
@click.argument("name")
@password_stdin
@pass_ctx
def users_password(ctx, name: str, password_stdin: bool) -> None:
    """Set a new password (ends the user's sessions, revokes their API tokens, lifts a sign-in throttle).

    \b
    Example:
      passage users password amina
      printf '%s\\n' "$NEW_PASSWORD" | passage users password amina --password-stdin
    """
    from passage.auth import set_password

    set_password(ctx.store, name, _read_password(password_stdin), principal=ctx.principal)
    click.echo(f"password of {name} changed")


@users_group.command("unlock")
@click.argument("name")
@pass_ctx
def users_unlock(ctx, name: str) -> None:
    """Lift a user's sign-in throttle at every address (recorded in the audit log).

    Sign-ins are throttled per user and address: after 5 failures each further attempt from that address
    waits twice as long as the last (30 seconds, 1 minute, … at most an hour). Other addresses are not held up.

    \b
    Example:
      passage users unlock amina
    """
    from passage.auth import unlock_user

    cleared = unlock_user(ctx.store, name, principal=ctx.principal)
    click.echo(f"user {name} unlocked ({cleared} failed sign-in{'' if cleared == 1 else 's'} forgotten)")


@users_group.group("tokens")
def tokens_group() -> None:
    """API tokens: `Authorization: Bearer psg_…` for scripts, acting as their user."""


@tokens_group.command("create")
@click.argument("name")
@click.option("--name", "token_name", required=True, help="What the token is for, e.g. laptop or nightly-sync.")
@click.option("--days", type=click.IntRange(1, MAX_DAYS),
              help="Days until the token expires (default: the store's, see `tokens default-days`; 90 unless set).")
@click.option("--save", is_flag=True,
              help="Also write the secret to the store's token file (passage.duckdb.token, readable by you only): "
                   "`passage` commands then run through the portal, as this user, while it holds the store.")
@pass_ctx
def tokens_create(ctx, name: str, token_name: str, days: int | None, save: bool) -> None:
    """Create a token and print its secret (shown this once only).

    A token expires, and ends when its user's password changes or the user is disabled.

    \b
    Example:
      passage users tokens create amina --name laptop
      passage users tokens create amina --name nightly-sync --days 30
      passage users tokens create admin --name cli --save   # for commands while `passage serve` runs
    """
    from passage.auth import create_token, list_tokens
    from passage.errors import UsageError

    if save and not ctx.store_file:
        raise UsageError("--save is for a DuckDB store (a PostgreSQL store serves many processes: no token needed)",
                         code="usage.save")
    token_id, secret = create_token(ctx.store, name, token_name, days=days, principal=ctx.principal)
    expires = next(t["expires_at"] for t in list_tokens(ctx.store, name) if t["token_id"] == token_id)
    click.echo(secret)
    if save:
        from passage.cli.remote import save_token

        click.echo(f"saved to {save_token(ctx.store_file, secret)}: commands run through the portal as {name} "
                   "while it holds the store", err=True)
    click.echo(f"token {token_id} created for {name}, expires {_when(expires)} UTC; store the secret above now, "
               "it is not shown again", err=True)


@tokens_group.command("list")
@click.argument("name")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@pass_ctx
def tokens_list(ctx, name: str, fmt: str) -> None:
    """A user's tokens: ID, name, status, created, expires, last used, revoked (times in UTC).

    \b
    Example:
      passage users tokens list amina
    """
    from passage.access import Account, require
    from passage.auth import list_tokens

    require(ctx.principal, "manage-tokens", Account(name))
    tokens = list_tokens(ctx.store, name)
    if fmt == "json":
        _json(tokens)
        return
    table(["token_id", "name", "status", "created_at", "expires_at", "last_used_at", "revoked_at"],
          [(t["token_id"], t["name"], t["status"], _when(t["created_at"]), _when(t["expires_at"]),
            _when(t["last_used_at"]), _when(t["revoked_at"])) for t in tokens])


@tokens_group.command("default-days")
@click.argument("days", type=click.IntRange(1, MAX_DAYS), required=False)
@pass_ctx
def tokens_default_days(ctx, days: int | None) -> None:
    """Show, or set, how many days new tokens live unless created with --days (the portal and the API too).

    \b
    Example:
      passage users tokens default-days        # prints the current default (90 unless set)
      passage users tokens default-days 30
    """
    from passage.auth import default_token_days, set_default_token_days

    if days is not None:
        set_default_token_days(ctx.store, days, principal=ctx.principal)
    click.echo(default_token_days(ctx.store))


@tokens_group.command("revoke")
@click.argument("name")
@click.argument("token_id")
@pass_ctx
def tokens_revoke(ctx, name: str, token_id: str) -> None:
    """Revoke a token for good.

    \b
    Example:
      passage users tokens revoke amina 3f9c2a7b1d0e4c55
    """
    from passage.auth import revoke_token

    revoke_token(ctx.store, name, token_id, principal=ctx.principal)
    click.echo(f"token {token_id} of {name} revoked")


@main.command("audit")
@click.option("--limit", default=50, show_default=True)
@click.option("--user", "user_name", help="Only what this user did.")
@click.option("--action", help="Only this action (e.g. user.update); a trailing '.' matches a family (user.).")
@click.option("--before", "before_id", type=int, help="Only entries older than this audit ID (to page back).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@pass_ctx
def audit_cmd(ctx, limit: int, user_name: str | None, action: str | None, before_id: int | None, fmt: str) -> None:
    """The audit log, newest first: sign-ins, account and token changes, data changes.

    \b
    Example:
      passage audit --limit 20 --action auth.sign_in_failed
      passage audit --user amina --format json
    """
    from passage.access import STORE, require
    from passage.auth import audit_entries

    require(ctx.principal, "administer", STORE)
    entries = audit_entries(ctx.store, limit=limit, user_name=user_name, action=action, before_id=before_id)
    if fmt == "json":
        _json(entries)
        return
    table(["audit_id", "occurred_at", "user_name", "action", "target", "import_id", "ip", "detail"],
          [(e["audit_id"], _when(e["occurred_at"]), e["user_name"], e["action"], e["target"], e["import_id"],
            e["ip"], "" if e["detail"] is None else json.dumps(e["detail"], sort_keys=True))
           for e in entries])
