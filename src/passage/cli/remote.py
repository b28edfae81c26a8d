"""A command run through a running portal's API, for when the portal holds the DuckDB store.

DuckDB lets one process at a time use a store file. While `passage serve` holds `passage.duckdb`, it records
its URL and pid beside it (`passage.duckdb.serving.json`, see `passage.store.duckdb`). A `passage` command
that finds the store locked then runs through the portal's HTTP API, as the user of an API token:

    passage --token psg_… users set amina --disable        # the portal's URL is read from the holder file
    passage --url http://127.0.0.1:8000 --token psg_… publish site_visits --country NGA

The token comes from `--token`, else `$PASSAGE_TOKEN`, else the token file beside the store that
`passage users tokens create NAME --name cli --save` wrote (`passage.duckdb.token`, readable by its owner only),
else the demo admin's token that the first `passage serve` of a demo store wrote in its demo folder
(`passage-demo/cli-token`).
A command with no API route on that portal, or one that needs a token when none is given, ends with a
message saying exactly what to do (the command through the portal, or stop the portal, or PostgreSQL).

Each command here is registered with the routes it calls (`@remote("publish", "POST /api/v1/…")`); a route
the portal's OpenAPI description does not list counts as missing, so a portal that gains routes gains
commands without a change here.
"""

from __future__ import annotations

import json
import mimetypes
import os
import shlex
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from passage.errors import AuthError, Conflict, Forbidden, NotFound, PassageError, StoreError, UsageError

OPERATIONS_DOC = "docs/operations.md"
TOKEN_SUFFIX = ".token"


def token_file(db: str | Path) -> Path:
    """Where `passage users tokens create … --save` keeps a token for the CLI: `passage.duckdb.token`."""
    p = Path(db)
    return p.with_name(p.name + TOKEN_SUFFIX)


def save_token(db: str | Path, secret: str) -> Path:
    out = token_file(db)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(secret + "\n")
    os.chmod(out, 0o600)
    return out


def opened_here(state: Any, **options: Any) -> Any:
    """The store opened by this process itself (`passage migrate`): a portal holding it is told as any command's
    missing route is."""
    from passage.store import open_store
    from passage.store.duckdb import StoreLocked

    if state.url:
        raise ThroughPortal(click.get_current_context(silent=True))
    try:
        return open_store(state.db, state.settings, **options)
    except StoreLocked as exc:
        raise ThroughPortal(click.get_current_context(silent=True), exc) from None


class ThroughPortal(Exception):
    """Raised where the CLI would open a store it cannot (or was told not to) use; `PassageGroup` runs the
    command through the portal instead (`run`)."""

    def __init__(self, click_ctx: click.Context | None, locked: Any = None):
        super().__init__("through the portal")
        self.click_ctx, self.locked = click_ctx, locked


# ---- the HTTP client -----------------------------------------------------------------------------------

ERRORS_BY_STATUS: dict[int, type[PassageError]] = {400: UsageError, 401: AuthError, 403: Forbidden, 404: NotFound,
                                                   409: Conflict}


@dataclass
class Client:
    url: str
    token: str | None
    _routes: set[tuple[str, str]] | None = field(default=None, repr=False)

    def call(self, method: str, path: str, *, query: dict | None = None, form: dict | None = None,
             file: tuple[str, Path] | None = None, body: Any = None,
             ok: tuple[int, ...] = ()) -> tuple[int, dict, bytes]:
        """(status, headers, body) of one request; an error answer not in `ok` is raised as Passage's error."""
        q = {k: v for k, v in (query or {}).items() if v is not None and v is not False}
        target = self.url.rstrip("/") + path + ("?" + urllib.parse.urlencode(q, doseq=True) if q else "")
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = None
        if file is not None:
            data, headers["Content-Type"] = _multipart(form or {}, *file)
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        elif form is not None:
            data = urllib.parse.urlencode({k: v for k, v in form.items() if v is not None}, doseq=True).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        request = urllib.request.Request(target, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=600) as answer:
                return answer.status, dict(answer.headers), answer.read()
        except urllib.error.HTTPError as exc:
            body = exc.read()
            if exc.code in ok:
                return exc.code, dict(exc.headers), body
            raise _error(exc.code, body) from None
        except (urllib.error.URLError, OSError) as exc:
            raise StoreError(f"the portal at {self.url} does not answer ({getattr(exc, 'reason', exc)})",
                             code="store.portal_unreachable") from None

    def json(self, method: str, path: str, **kw: Any) -> Any:
        return json.loads(self.call(method, path, **kw)[2] or b"null")

    def routes(self) -> set[tuple[str, str]]:
        """(METHOD, path) of every route the portal's OpenAPI description lists."""
        if self._routes is None:
            spec = json.loads(self.call("GET", "/api/v1/openapi.json")[2])
            self._routes = {(m.upper(), p) for p, ops in spec.get("paths", {}).items() for m in ops}
        return self._routes


def _error(status: int, body: bytes) -> PassageError:
    try:
        info = json.loads(body)["error"]
        message, code = str(info.get("message", "")), info.get("code")
    except (ValueError, KeyError, TypeError):
        message, code = body.decode("utf-8", "replace")[:300], None
    err = ERRORS_BY_STATUS.get(status, PassageError)(message, code=code)
    err.http_status = status
    return err


def _multipart(fields: dict, name: str, path: Path) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts: list[bytes] = []
    for k, v in fields.items():
        if v is None or v is False:
            continue
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode())
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{path.name}"\r\n'
                 f"Content-Type: {kind}\r\n\r\n".encode() + path.read_bytes() + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


# ---- commands with a route ------------------------------------------------------------------------------

@dataclass
class Remote:
    routes: tuple[tuple[str, str], ...]
    run: Callable[[Client, dict, Any], None]
    anonymous: Callable[[dict, Any], bool] = lambda params, state: False  # may run without a token


COMMANDS: dict[str, Remote] = {}


def remote(command: str, *routes: str, anonymous: Callable[[dict, Any], bool] | None = None):
    """Register how `passage COMMAND` runs through the portal, over `routes` ("POST /api/v1/…")."""

    def register(fn: Callable[[Client, dict, Any], None]) -> Callable[[Client, dict, Any], None]:
        pairs = tuple((r.split(" ", 1)[0], r.split(" ", 1)[1]) for r in routes)
        COMMANDS[command] = Remote(pairs, fn, anonymous or (lambda params, state: False))
        return fn

    return register


def _readers(params: dict, state: Any) -> bool:
    """A read without --user: what the public sees, which needs no token."""
    return not state.user and not params.get("all_")


def _all_needs_admin(client: Client, p: dict, what: str) -> None:
    """--all through the portal: the token's user must be an admin (who reads every row there)."""
    if p.get("all_") and client.json("GET", "/api/v1/me").get("role") != "admin":
        raise UsageError(f"--all shows unpublished {what} too: it needs an admin's token", code="usage.all_needs_admin")


@remote("publish", "POST /api/v1/datasets/{name}/releases")
def _publish(client: Client, p: dict, state: Any) -> None:
    for iso3 in p["countries"]:
        name = urllib.parse.quote(p["dataset"], safe="")
        done = client.json("POST", f"/api/v1/datasets/{name}/releases", form={"country": iso3.upper(), "note": p["note"]})
        click.echo(f"release {done['release_id']}: {p['dataset']} for {iso3.upper()}")


@remote("import", "POST /api/v1/imports")
def _import(client: Client, p: dict, state: Any) -> None:
    from passage.findings import Finding, Report

    if p["kind"] == "boundaries" or p["year"] is not None:
        raise UsageError("the portal's API imports no boundaries and takes no --year: stop the portal and run "
                         "this again, or use PostgreSQL for many processes (" + OPERATIONS_DOC + ")",
                         code="usage.remote")
    findings: list[dict] = []
    failed = False
    for path in p["files"]:
        _, _, body = client.call("POST", "/api/v1/imports", form={
            "kind": p["kind"], "form": p["form_id"], "update": "true" if p["update"] else None,
            "on_error": p["on_error"], "sheet": p["sheet"]}, file=("file", Path(path)), ok=(422,))
        r = json.loads(body)
        if "status" not in r:  # a request the API refused before importing (its error body)
            raise _error(422, body)
        findings += r["report"]["findings"]
        if r["status"] == "unchanged":
            click.echo(f"{Path(path).name}: unchanged: the same file was imported already (import "
                       f"{r['previous_import']})")
        elif r["ok"]:
            click.echo(f"{Path(path).name}: import {r['import_id']} committed: {r['inserted']} new, {r['updated']} "
                       f"updated, {r['unchanged']} unchanged of {r['rows_read']} rows"
                       + (f"; {r['quarantined']} quarantined" if r["quarantined"] else ""))
        else:
            failed = True
            from passage.cli.render import print_report

            report = Report()
            for f in r["report"]["findings"]:
                report.add(Finding(**{k: v for k, v in f.items() if k in Finding.__dataclass_fields__}))
            click.echo(f"{Path(path).name}:", err=True)
            print_report(report)
    if p["report_path"]:
        Path(p["report_path"]).write_text(json.dumps({"findings": findings}, indent=2, default=str), encoding="utf-8")
    if failed:
        sys.exit(1)


@remote("log", "GET /api/v1/imports")
def _log(client: Client, p: dict, state: Any) -> None:
    from passage.cli.render import table

    rows = client.json("GET", "/api/v1/imports", query={"limit": min(p["limit"], 500)})["data"]
    names = list(rows[0]) if rows else ["import_id"]
    table(names, [[r.get(n) for n in names] for r in rows])


@remote("export", "GET /api/v1/exports/{table}", "GET /api/v1/exports", anonymous=_readers)
def _export(client: Client, p: dict, state: Any) -> None:
    from passage.cli.render import table

    _all_needs_admin(client, p, "rows")
    if p["list_"] or not p["name"]:
        rows = client.json("GET", "/api/v1/exports")["data"]
        table(["name", "title"], [(r["name"], r["title"]) for r in rows])
        return
    if p["validate"]:
        raise UsageError("--validate checks the file as it is written here: run `passage export … -o FILE` through "
                         "the portal, then stop the portal to validate, or leave out --validate", code="usage.remote")
    if p["fmt"] in ("xlsx", "parquet") and p["output"] is None:
        raise UsageError(f"--format {p['fmt']} needs -o FILE")
    name = urllib.parse.quote(p["name"], safe="")
    _, _, body = client.call("GET", f"/api/v1/exports/{name}", query={"format": p["fmt"], "bom": p["bom"] or None})
    if p["output"] is None:
        sys.stdout.buffer.write(body) if hasattr(sys.stdout, "buffer") else click.echo(body.decode(), nl=False)
        sys.stdout.flush()
    else:
        Path(p["output"]).write_bytes(body)
        click.echo(f"{len(body)} bytes written to {p['output']} (through the portal at {client.url})", err=True)


@remote("backup", "GET /api/v1/admin/backup")
def _backup(client: Client, p: dict, state: Any) -> None:
    """The portal takes the snapshot (it holds the store); the file is written here once complete."""
    from passage.cli.backup import said
    from passage.store.backup import read_manifest

    _, _, body = client.call("GET", "/api/v1/admin/backup")
    out = Path(p["out"])
    part = out.with_name(out.name + ".part")
    part.write_bytes(body)
    part.replace(out)
    click.echo(said(read_manifest(out), f"wrote {out} (through the portal at {client.url})"))


@remote("indicators show", "GET /api/v1/indicators/{name}", "GET /api/v1/indicators", anonymous=_readers)
def _indicator(client: Client, p: dict, state: Any) -> None:
    from passage.cli.render import table

    _all_needs_admin(client, p, "figures")
    found = {i["name"]: i for i in client.json("GET", "/api/v1/indicators")["data"]}
    if p["name"] not in found:
        raise NotFound(f"no indicator {p['name']!r} readable through the portal")
    ind = found[p["name"]]
    click.echo(f"{ind['name']}: {ind['title']} ({ind['unit']})\n{ind['description']}\nform {ind['form']}")
    rows = client.json("GET", f"/api/v1/indicators/{urllib.parse.quote(p['name'], safe='')}",
                       query={"country": p["country"].upper() if p["country"] else None})["data"]
    names = list(rows[0]) if rows else []
    table(names, [[r[n] for n in names] for r in rows[: p["limit"]]])
    click.echo(f"{len(rows)} rows")


@remote("places list", "GET /api/v1/places", anonymous=lambda p, s: True)
def _places(client: Client, p: dict, state: Any) -> None:
    from passage.cli.render import rows_out

    rows: list[dict] = []
    cursor = None
    while True:
        page = client.json("GET", "/api/v1/places", query={"country": p["country"], "level": p["level"],
                                                            "limit": 1000, "cursor": cursor})
        rows += page["data"]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    names = ["code", "level", "name", "parent_code", "country_code"]
    rows_out(names, [[r.get(n) for n in names] for r in rows], p["fmt"])


@remote("unpublish", "DELETE /api/v1/admin/datasets/{name}/countries/{iso3}/release")
def _unpublish(client: Client, p: dict, state: Any) -> None:
    for iso3 in p["countries"]:
        done = client.json("DELETE", f"/api/v1/admin/datasets/{_q(p['dataset'])}/countries/{iso3.upper()}/release")
        click.echo(f"{p['dataset']} for {iso3.upper()}: {done['withdrawn']} release(s) withdrawn")


@remote("rollback", "POST /api/v1/admin/imports/{import_id}/rollback")
def _rollback(client: Client, p: dict, state: Any) -> None:
    from passage.cli.commands import _rollback_text

    click.echo(_rollback_text(client.json("POST", f"/api/v1/admin/imports/{int(p['import_id'])}/rollback")))


@remote("datasets visibility", "PUT /api/v1/admin/datasets/{name}/visibility")
def _visibility(client: Client, p: dict, state: Any) -> None:
    client.call("PUT", f"/api/v1/admin/datasets/{_q(p['name'])}/visibility", body={"visibility": p["visibility"]})
    click.echo(f"{p['name']} is {p['visibility']}")


# users: the portal's /api/v1/admin routes

def _q(name: str) -> str:
    return urllib.parse.quote(name, safe="")


@remote("users add", "POST /api/v1/admin/users")
def _user_add(client: Client, p: dict, state: Any) -> None:
    from passage.cli.users import _read_password

    client.call("POST", "/api/v1/admin/users", body={
        "user_name": p["name"], "password": _read_password(p["password_stdin"]), "role": p["role"],
        "scopes": list(p["scopes"]), "display_name": p["display_name"], "email": p["email"]})
    scopes = ", ".join(sorted(s.upper() for s in p["scopes"]))
    click.echo(f"user {p['name']} added ({p['role']}{': ' + scopes if scopes else ''})")


@remote("users list", "GET /api/v1/admin/users")
def _user_list(client: Client, p: dict, state: Any) -> None:
    from passage.cli.render import table

    users = client.json("GET", "/api/v1/admin/users")["data"]
    if p["fmt"] == "json":
        click.echo(json.dumps(users, indent=2, default=str))
        return
    table(["user_name", "role", "scopes", "status", "display_name", "email", "created_at"],
          [(u["user_name"], u["role"], " ".join(u["scopes"]), "disabled" if u["disabled"] else "active",
            u["display_name"], u["email"], str(u["created_at"] or "")[:19]) for u in users])


def _change(client: Client, name: str, change: dict, said: str) -> None:
    client.call("PATCH", f"/api/v1/admin/users/{_q(name)}", body={k: v for k, v in change.items() if v is not None})
    click.echo(f"user {name} {said}")


@remote("users set", "PATCH /api/v1/admin/users/{user_name}")
def _user_set(client: Client, p: dict, state: Any) -> None:
    _change(client, p["name"], {"role": p["role"], "scopes": list(p["scopes"]) or None, "disabled": p["disabled"],
                                "display_name": p["display_name"], "email": p["email"]}, "updated")


@remote("users disable", "PATCH /api/v1/admin/users/{user_name}")
def _user_disable(client: Client, p: dict, state: Any) -> None:
    _change(client, p["name"], {"disabled": True}, "disabled")


@remote("users enable", "PATCH /api/v1/admin/users/{user_name}")
def _user_enable(client: Client, p: dict, state: Any) -> None:
    _change(client, p["name"], {"disabled": False}, "enabled")


@remote("users password", "PUT /api/v1/admin/users/{user_name}/password")
def _user_password(client: Client, p: dict, state: Any) -> None:
    from passage.cli.users import _read_password

    client.call("PUT", f"/api/v1/admin/users/{_q(p['name'])}/password",
                body={"password": _read_password(p["password_stdin"])})
    click.echo(f"password of {p['name']} changed")


@remote("users unlock", "POST /api/v1/admin/users/{user_name}/unlock")
def _user_unlock(client: Client, p: dict, state: Any) -> None:
    n = client.json("POST", f"/api/v1/admin/users/{_q(p['name'])}/unlock")["failures_cleared"]
    click.echo(f"user {p['name']} unlocked ({n} failed sign-in{'' if n == 1 else 's'} forgotten)")


@remote("users tokens list", "GET /api/v1/admin/users/{user_name}/tokens")
def _tokens_list(client: Client, p: dict, state: Any) -> None:
    from passage.cli.render import table

    tokens = client.json("GET", f"/api/v1/admin/users/{_q(p['name'])}/tokens")["data"]
    if p["fmt"] == "json":
        click.echo(json.dumps(tokens, indent=2, default=str))
        return
    when = lambda v: "" if v is None else str(v)[:19]
    table(["token_id", "name", "status", "created_at", "expires_at", "last_used_at", "revoked_at"],
          [(t["token_id"], t["name"], t["status"], when(t["created_at"]), when(t["expires_at"]),
            when(t["last_used_at"]), when(t["revoked_at"])) for t in tokens])


@remote("users tokens revoke", "DELETE /api/v1/admin/users/{user_name}/tokens/{token_id}")
def _tokens_revoke(client: Client, p: dict, state: Any) -> None:
    client.call("DELETE", f"/api/v1/admin/users/{_q(p['name'])}/tokens/{_q(p['token_id'])}")
    click.echo(f"token {p['token_id']} of {p['name']} revoked")


@remote("users tokens create", "POST /api/v1/admin/users/{user_name}/tokens")
def _tokens_create(client: Client, p: dict, state: Any) -> None:
    raise UsageError(f"an API token cannot create tokens: create {p['name']}'s on the portal's page "
                     f"{client.url}/admin/users/{_q(p['name'])} (or your own on {client.url}/account), or stop the "
                     f"portal and run this again", code="usage.remote")


@remote("users tokens default-days", "GET /api/v1/admin/tokens/default-days", "PUT /api/v1/admin/tokens/default-days")
def _tokens_days(client: Client, p: dict, state: Any) -> None:
    if p["days"] is not None:
        click.echo(client.json("PUT", "/api/v1/admin/tokens/default-days", body={"days": p["days"]})["days"])
    else:
        click.echo(client.json("GET", "/api/v1/admin/tokens/default-days")["days"])


@remote("audit", "GET /api/v1/admin/audit")
def _audit(client: Client, p: dict, state: Any) -> None:
    from passage.cli.render import table

    entries = client.json("GET", "/api/v1/admin/audit", query={
        "limit": p["limit"], "user": p["user_name"], "action": p["action"], "before": p["before_id"]})["data"]
    if p["fmt"] == "json":
        click.echo(json.dumps(entries, indent=2, default=str))
        return
    table(["audit_id", "occurred_at", "user_name", "action", "target", "import_id", "ip", "detail"],
          [(e["audit_id"], str(e["occurred_at"])[:19], e["user_name"], e["action"], e["target"], e["import_id"],
            e["ip"], "" if e["detail"] is None else json.dumps(e["detail"], sort_keys=True)) for e in entries])


# ---- choosing: run it, or say what to do ----------------------------------------------------------------

def _me(client: Client) -> str | None:
    me = client.json("GET", "/api/v1/me")
    return me.get("user") or me.get("user_name")


def _command_name(click_ctx: click.Context) -> str:
    names = []
    c: click.Context | None = click_ctx
    while c is not None and c.parent is not None:
        names.append(c.info_name or "")
        c = c.parent
    return " ".join(reversed(names))


def _command_line(click_ctx: click.Context) -> str:
    """The command as typed after the global options (`users set amina --disable`)."""
    rest = click_ctx.find_root().meta.get("passage.rest")
    return shlex.join(rest) if rest else _command_name(click_ctx)


def _token(state: Any) -> str | None:
    """--token or $PASSAGE_TOKEN; else, for the portal that holds this store (never for another --url, which
    must not be sent the store's own tokens), the store's token file or its demo's CLI token."""
    if state.token or state.url:
        return state.token
    from passage.demo_portal import cli_token

    db = state.db
    try:
        return token_file(db).read_text(encoding="utf-8").strip() or None
    except OSError:
        pass
    demo_dir = state.settings.demo.dir if state.settings.origins["demo.dir"] != "default" else None
    return cli_token(db, demo_dir)  # the demo admin's, written by the first `passage serve`


def run(state: Any, through: ThroughPortal) -> None:
    """Run the command through the portal (the --url given, else the live holder of the locked store), or
    raise a StoreError saying exactly what to do."""
    click_ctx = through.click_ctx
    locked = through.locked
    assert click_ctx is not None
    name, line = _command_name(click_ctx), _command_line(click_ctx)
    store = Path(locked.path).name if locked is not None else None
    if state.url:
        url = state.url.rstrip("/")
        who = f"The portal at {url}" + (f" (pid {locked.holder['pid']}) holds {store}." if locked is not None
                                        and locked.holder else ".")
    elif locked is not None and locked.holder:
        url = str(locked.holder["url"]).rstrip("/")
        who = f"The portal at {url} (pid {locked.holder['pid']}) holds {store}."
    else:  # another command, not a portal, holds the file
        pid = f" (pid {locked.pid})" if locked is not None and locked.pid else ""
        raise StoreError(f"Another process{pid} holds {store}: DuckDB lets one process at a time use a store file. "
                         f"Wait for it to finish and run this again, or use PostgreSQL for many processes "
                         f"({OPERATIONS_DOC}).", code="store.locked")
    stop = "stop the portal (Ctrl+C where it runs) and run this again"
    if name == "serve":
        raise StoreError(f"{who} Open it at {url}/, or stop it (Ctrl+C where it runs) before serving the store "
                         "again.", code="store.locked")
    command = COMMANDS.get(name)
    public = command is not None and command.anonymous(click_ctx.params, state)
    # A read without --user shows what the public sees, here as in the store itself: no token is sent.
    client = Client(url, None if public else _token(state))
    if command is None or not all(r in client.routes() for r in command.routes):
        raise StoreError(f"{who} Its API has no route for `passage {name}`: {stop}, or use PostgreSQL for many "
                         f"processes ({OPERATIONS_DOC}).", code="store.locked")
    if client.token is None and not public:
        raise StoreError(
            f"{who} Run this through it with an API token: passage --url {url} --token … {line}\n"
            f"(a token: your account page {url}/account, or `passage users tokens create USER --name cli --save` "
            f"while the portal is stopped, which the CLI then finds by itself; or $PASSAGE_TOKEN), or {stop}, or "
            f"use PostgreSQL for many processes ({OPERATIONS_DOC}).", code="store.locked")
    if state.user and client.token:
        me = _me(client)
        if me != state.user.lower():
            raise UsageError(f"--user {state.user}: the API token given is {me}'s; through the portal a command "
                             f"acts as the token's user (give {state.user}'s token)", code="usage.remote")
    if not state.quiet:
        click.echo(f"{who.rstrip('.')}: running `passage {name}` through its API", err=True)
    command.run(client, click_ctx.params, state)
