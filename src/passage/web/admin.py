"""Administration while the portal runs: a page and an API route for every admin action.

Users (add, change role, scopes and details, disable or enable, reset a password, lift a sign-in throttle),
roles, API tokens (every user's, revoked by an admin), the import log (one import with its files and held rows),
releases (publish, withdraw), and what the public reads (a dataset's visibility, and each country published or
not). Each route is a few lines over the library verb the CLI calls, which checks the caller
(`passage.access`: `administer` the store, or `publish` for a country) and writes the audit entry.

Pages live under `/admin` (forms carry the session's CSRF token); the API under `/api/v1/admin` (Bearer tokens,
or a session cookie with `X-CSRF-Token`), in the OpenAPI document under the `admin` tag.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Body, Depends, Form, Query, Request
from fastapi import Path as PathParam
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from passage import auth, releases
from passage.access import RULES, STORE, read_import, readable_imports, require
from passage.auth import ratelimit
from passage.auth.tokens import MAX_DAYS
from passage.ingest.rollback import rollback_import
from passage.web.api import ERRORS, respond
from passage.web.context import Ctx, resolve

Context = Annotated[Ctx, Depends(resolve)]
pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/v1/admin", tags=["admin"], responses=ERRORS)

ROLE_HELP = {"admin": "everything, everywhere: users, tokens, forms, visibility, releases",
             "editor": "imports, fixes and publishes the data of their places",
             "viewer": "reads unpublished data of restricted datasets in their places"}
TOKEN_STATUSES = ("active", "expired", "revoked")
UserName = Annotated[str, PathParam(max_length=64)]
ISO3 = Annotated[str, PathParam(pattern="^[A-Z]{3}$", description="ISO 3166 alpha-3")]


def _render(ctx: Ctx, name: str, status: int = 200, **data: Any) -> HTMLResponse:
    from passage.web.pages import render

    return render(ctx, name, status=status, **data)


def _administer(ctx: Ctx) -> None:
    require(ctx.principal, "administer", STORE)


def _changing(ctx: Ctx, csrf_token: str | None) -> None:
    """A change from a form or a cookie-signed API call: signed in first (the anonymous are told to sign in, not
    about CSRF), then the CSRF token. The library verb decides whether this user may make it."""
    ctx.require_user()
    ctx.check_csrf(csrf_token or ctx.request.headers.get("x-csrf-token"))


def _codes(text: str) -> list[str]:
    return [s.strip() for s in text.replace(";", ",").replace(" ", ",").split(",") if s.strip()]


def _answer(payload: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    """A change's JSON answer (times as ISO text)."""
    return JSONResponse(jsonable_encoder(payload), status_code=status_code, headers=headers)


def _back(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _user_url(user_name: str) -> str:
    return f"/admin/users/{quote(user_name, safe='')}"


def _user_json(store, user_name: str) -> dict[str, Any]:
    user = next((u for u in auth.list_users(store) if u["user_name"] == user_name), None)
    if user is None:
        from passage.errors import NotFound

        raise NotFound(f"no user named {user_name!r}")
    failures = ratelimit.failures_by_user(store).get(user_name)
    return {**user, "failed_sign_ins": failures["failures"] if failures else 0}


def _roles(store) -> list[dict[str, Any]]:
    users = auth.list_users(store)
    return [{"role": r, "description": ROLE_HELP[r], "users": [u["user_name"] for u in users if u["role"] == r]}
            for r in auth.ROLES]


def _rules() -> list[dict[str, str]]:
    return [{"action": name, "about": rule.resource, "refused_as": rule.what} for name, rule in RULES.items()]


def _visibility(store) -> list[dict[str, Any]]:
    return [{"name": d.name, "title": d.title, "visibility": d.visibility,
             "countries": releases.dataset_countries(store, d.name)} for d in releases.list_datasets(store)]


# ---- pages ----------------------------------------------------------------------------------------------------

@pages.get("/admin", response_class=HTMLResponse)
def index(ctx: Context):
    _administer(ctx)
    return _render(ctx, "admin_index.html", users=len(auth.list_users(ctx.store)),
                   throttled=len(ratelimit.failures_by_user(ctx.store)))


@pages.get("/admin/users", response_class=HTMLResponse)
def users(ctx: Context):
    _administer(ctx)
    return _render(ctx, "users.html", users=auth.list_users(ctx.store), roles=auth.ROLES,
                   failures=ratelimit.failures_by_user(ctx.store))


@pages.post("/admin/users", response_class=HTMLResponse)
def user_add(ctx: Context, user_name: Annotated[str, Form()], password: Annotated[str, Form()],
             role: Annotated[str, Form()], scopes: Annotated[str, Form()] = "",
             display_name: Annotated[str, Form()] = "", email: Annotated[str, Form()] = "",
             csrf_token: Annotated[str, Form()] = ""):
    _changing(ctx, csrf_token)
    auth.add_user(ctx.store, user_name.strip(), password, role, _codes(scopes), display_name=display_name or None,
                  email=email or None, principal=ctx.principal)
    return _back("/admin/users")


@pages.get("/admin/users/{user_name}", response_class=HTMLResponse)
def user_page(ctx: Context, user_name: UserName, done: Annotated[str | None, Query(max_length=40)] = None):
    _administer(ctx)
    return _user_page(ctx, user_name, done=done)


def _user_page(ctx: Ctx, user_name: str, *, done: str | None = None, new_token: str | None = None) -> HTMLResponse:
    return _render(ctx, "admin_user.html", user=_user_json(ctx.store, user_name), roles=auth.ROLES,
                   tokens=auth.list_tokens(ctx.store, user_name), done=done, new_token=new_token,
                   default_days=auth.default_token_days(ctx.store), max_days=MAX_DAYS)


@pages.post("/admin/users/{user_name}")
def user_change(ctx: Context, user_name: UserName, role: Annotated[str, Form()] = "",
                scopes: Annotated[str, Form()] = "", display_name: Annotated[str | None, Form()] = None,
                email: Annotated[str | None, Form()] = None, csrf_token: Annotated[str, Form()] = ""):
    """Role and scopes (replaced by what the form gives) and details."""
    _changing(ctx, csrf_token)
    auth.update_user(ctx.store, user_name, role=role or None, scopes=_codes(scopes), display_name=display_name,
                     email=email, principal=ctx.principal)
    return _back(_user_url(user_name) + "?done=saved")


@pages.post("/admin/users/{user_name}/disable")
def user_disable(ctx: Context, user_name: UserName, csrf_token: Annotated[str, Form()] = ""):
    _changing(ctx, csrf_token)
    auth.update_user(ctx.store, user_name, disabled=True, principal=ctx.principal)
    return _back(_user_url(user_name) + "?done=disabled")


@pages.post("/admin/users/{user_name}/enable")
def user_enable(ctx: Context, user_name: UserName, csrf_token: Annotated[str, Form()] = ""):
    _changing(ctx, csrf_token)
    auth.update_user(ctx.store, user_name, disabled=False, principal=ctx.principal)
    return _back(_user_url(user_name) + "?done=enabled")


@pages.post("/admin/users/{user_name}/password")
def user_password(ctx: Context, user_name: UserName, password: Annotated[str, Form()],
                  csrf_token: Annotated[str, Form()] = ""):
    _changing(ctx, csrf_token)
    auth.set_password(ctx.store, user_name, password, principal=ctx.principal)
    return _back(_user_url(user_name) + "?done=password")


@pages.post("/admin/users/{user_name}/unlock")
def user_unlock(ctx: Context, user_name: UserName, csrf_token: Annotated[str, Form()] = "",
                next: Annotated[str, Form()] = ""):
    _changing(ctx, csrf_token)
    auth.unlock_user(ctx.store, user_name, principal=ctx.principal)
    return _back(_user_url(user_name) + "?done=unlocked" if next == "user" else "/admin/users")


@pages.post("/admin/users/{user_name}/tokens", response_class=HTMLResponse)
def user_token_create(ctx: Context, user_name: UserName, name: Annotated[str, Form(min_length=1, max_length=80)],
                      days: Annotated[int | None, Form(ge=1, le=MAX_DAYS)] = None,
                      csrf_token: Annotated[str, Form()] = ""):
    ctx.require_session()  # a token cannot mint tokens
    _changing(ctx, csrf_token)
    _id, secret = auth.create_token(ctx.store, user_name, name, days=days, principal=ctx.principal)
    return _user_page(ctx, user_name, new_token=secret)


@pages.post("/admin/users/{user_name}/tokens/{token_id}/revoke")
def user_token_revoke(ctx: Context, user_name: UserName, token_id: Annotated[str, PathParam(max_length=40)],
                      csrf_token: Annotated[str, Form()] = "", next: Annotated[str, Form()] = ""):
    _changing(ctx, csrf_token)
    auth.revoke_token(ctx.store, user_name, token_id, principal=ctx.principal)
    return _back("/admin/tokens?done=revoked" if next == "tokens" else _user_url(user_name) + "?done=revoked")


@pages.get("/admin/roles", response_class=HTMLResponse)
def roles_page(ctx: Context):
    _administer(ctx)
    return _render(ctx, "admin_roles.html", roles=_roles(ctx.store), rules=_rules())


@pages.get("/admin/tokens", response_class=HTMLResponse)
def tokens_page(ctx: Context, user: Annotated[str | None, Query(max_length=64)] = None,
                status: Annotated[str | None, Query(max_length=10)] = None,
                done: Annotated[str | None, Query(max_length=40)] = None):
    _administer(ctx)
    tokens = auth.all_tokens(ctx.store, user_name=user or None, status=status or None, principal=ctx.principal)
    return _render(ctx, "admin_tokens.html", tokens=tokens, user=user or "", token_status=status or "",
                   statuses=TOKEN_STATUSES, done=done, default_days=auth.default_token_days(ctx.store),
                   max_days=MAX_DAYS)


@pages.post("/admin/tokens/default-days")
def tokens_default_days(ctx: Context, days: Annotated[int, Form(ge=1, le=MAX_DAYS)],
                        csrf_token: Annotated[str, Form()] = ""):
    _changing(ctx, csrf_token)
    auth.set_default_token_days(ctx.store, days, principal=ctx.principal)
    return _back("/admin/tokens?done=default-days")


@pages.get("/admin/imports", response_class=HTMLResponse)
def imports_page(ctx: Context, limit: Annotated[int, Query(ge=1, le=500)] = 100):
    return _render(ctx, "admin_imports.html", imports=readable_imports(ctx.store, ctx.principal, limit))


@pages.get("/admin/imports/{import_id}", response_class=HTMLResponse)
def import_page(ctx: Context, import_id: int):
    return _render(ctx, "admin_import.html", item=read_import(ctx.store, ctx.principal, import_id))


@pages.post("/admin/imports/{import_id}/rollback")
def import_rollback(ctx: Context, import_id: int, csrf_token: Annotated[str, Form()] = ""):
    _changing(ctx, csrf_token)
    rollback_import(ctx.store, import_id, principal=ctx.principal)
    return _back(f"/admin/imports/{import_id}")


@pages.get("/admin/releases", response_class=HTMLResponse)
def releases_page(ctx: Context, dataset: Annotated[str | None, Query(max_length=80)] = None,
                  done: Annotated[str | None, Query(max_length=40)] = None):
    _administer(ctx)
    return _render(ctx, "admin_releases.html", releases=releases.releases(ctx.store, dataset=dataset or None, limit=200),
                   datasets=releases.list_datasets(ctx.store), dataset=dataset or "", done=done)


@pages.post("/admin/releases")
def release_create(ctx: Context, dataset: Annotated[str, Form(max_length=80)],
                   country: Annotated[str, Form(pattern="^[A-Za-z]{3}$")], note: Annotated[str, Form(max_length=500)] = "",
                   csrf_token: Annotated[str, Form()] = ""):
    _changing(ctx, csrf_token)
    releases.publish(ctx.store, dataset, country.upper(), principal=ctx.principal, note=note or None)
    return _back("/admin/releases?done=published")


@pages.post("/admin/releases/{release_id}/withdraw")
def release_withdraw(ctx: Context, release_id: int, csrf_token: Annotated[str, Form()] = ""):
    _changing(ctx, csrf_token)
    releases.withdraw(ctx.store, release_id, principal=ctx.principal)
    return _back("/admin/releases?done=withdrawn")


@pages.get("/admin/visibility", response_class=HTMLResponse)
def visibility_page(ctx: Context, done: Annotated[str | None, Query(max_length=40)] = None):
    _administer(ctx)
    return _render(ctx, "admin_visibility.html", datasets=_visibility(ctx.store), visibilities=releases.VISIBILITIES,
                   done=done)


@pages.post("/admin/datasets/{name}/visibility")
def dataset_visibility(ctx: Context, name: str, visibility: Annotated[str, Form(max_length=20)],
                       csrf_token: Annotated[str, Form()] = ""):
    _changing(ctx, csrf_token)
    releases.set_visibility(ctx.store, name, visibility, principal=ctx.principal)
    return _back("/admin/visibility?done=visibility")


@pages.post("/admin/datasets/{name}/countries/{iso3}/publish")
def country_publish(ctx: Context, name: str, iso3: ISO3, csrf_token: Annotated[str, Form()] = "",
                    note: Annotated[str, Form(max_length=500)] = ""):
    _changing(ctx, csrf_token)
    releases.publish(ctx.store, name, iso3, principal=ctx.principal, note=note or None)
    return _back("/admin/visibility?done=published")


@pages.post("/admin/datasets/{name}/countries/{iso3}/unpublish")
def country_unpublish(ctx: Context, name: str, iso3: ISO3, csrf_token: Annotated[str, Form()] = ""):
    _changing(ctx, csrf_token)
    releases.unpublish(ctx.store, name, iso3, principal=ctx.principal)
    return _back("/admin/visibility?done=unpublished")


@pages.get("/admin/audit", response_class=HTMLResponse)
def audit_page(ctx: Context, user: Annotated[str | None, Query(max_length=64)] = None,
               action: Annotated[str | None, Query(max_length=60)] = None,
               before: Annotated[int | None, Query(ge=1)] = None):
    _administer(ctx)
    entries = auth.audit_entries(ctx.store, limit=200, user_name=user or None, action=action or None, before_id=before)
    return _render(ctx, "audit.html", entries=entries, user=user or "", action=action or "")


# ---- API ------------------------------------------------------------------------------------------------------

class NewUser(BaseModel):
    user_name: str = Field(max_length=64)
    password: str = Field(max_length=200)
    role: str = Field(description="admin, editor or viewer")
    scopes: list[str] = Field(default_factory=list, description="ISO3 countries or P-codes (none for admins)")
    display_name: str | None = Field(None, max_length=200)
    email: str | None = Field(None, max_length=200)


class UserChange(BaseModel):
    role: str | None = None
    scopes: list[str] | None = Field(None, description="Replaces the scopes")
    display_name: str | None = Field(None, max_length=200)
    email: str | None = Field(None, max_length=200)
    disabled: bool | None = Field(None, description="true ends the user's sessions and revokes their tokens")


class NewPassword(BaseModel):
    password: str = Field(max_length=200)


class NewToken(BaseModel):
    name: str = Field(min_length=1, max_length=80)
    days: int | None = Field(None, ge=1, le=MAX_DAYS)


class DefaultDays(BaseModel):
    days: int = Field(ge=1, le=MAX_DAYS)


class NewRelease(BaseModel):
    dataset: str = Field(max_length=80)
    country: str = Field(pattern="^[A-Z]{3}$")
    note: str | None = Field(None, max_length=500)


class Visibility(BaseModel):
    visibility: str = Field(description="public or restricted")


class Note(BaseModel):
    note: str | None = Field(None, max_length=500)


@api.get("/users")
def api_users(ctx: Context, request: Request):
    """Every user with role, scopes, status and failed sign-ins counted against them."""
    _administer(ctx)
    failures = ratelimit.failures_by_user(ctx.store)
    return respond(request, {"data": [{**u, "failed_sign_ins": failures.get(u["user_name"], {}).get("failures", 0)}
                                      for u in auth.list_users(ctx.store)]})


@api.post("/users", status_code=201)
def api_user_add(ctx: Context, user: NewUser):
    """Create a user (`passage users add`)."""
    _changing(ctx, None)
    auth.add_user(ctx.store, user.user_name.strip(), user.password, user.role, user.scopes,
                  display_name=user.display_name, email=user.email, principal=ctx.principal)
    return _answer(_user_json(ctx.store, user.user_name.strip()), status_code=201, headers={
        "Location": f"/api/v1/admin/users/{quote(user.user_name.strip(), safe='')}"})


@api.get("/users/{user_name}")
def api_user(ctx: Context, request: Request, user_name: UserName):
    _administer(ctx)
    return respond(request, _user_json(ctx.store, user_name))


@api.patch("/users/{user_name}")
def api_user_change(ctx: Context, user_name: UserName, change: UserChange):
    """Change role, scopes, details, or disable / enable (`passage users set`); fields left out are kept."""
    _changing(ctx, None)
    auth.update_user(ctx.store, user_name, role=change.role, scopes=change.scopes, display_name=change.display_name,
                     email=change.email, disabled=change.disabled, principal=ctx.principal)
    return _answer(_user_json(ctx.store, user_name))


@api.put("/users/{user_name}/password", status_code=204)
def api_user_password(ctx: Context, user_name: UserName, body: NewPassword):
    """A new password (`passage users password`): ends the user's sessions, revokes their tokens, lifts a throttle."""
    _changing(ctx, None)
    auth.set_password(ctx.store, user_name, body.password, principal=ctx.principal)
    return Response(status_code=204)


@api.post("/users/{user_name}/unlock")
def api_user_unlock(ctx: Context, user_name: UserName):
    """Lift the user's sign-in throttle at every address (`passage users unlock`)."""
    _changing(ctx, None)
    return _answer({"user_name": user_name,
                         "failures_cleared": auth.unlock_user(ctx.store, user_name, principal=ctx.principal)})


@api.get("/throttled")
def api_throttled(ctx: Context, request: Request):
    """Users with failed sign-ins counted against them (the ones an unlock would clear)."""
    _administer(ctx)
    return respond(request, {"data": [{"user_name": name, **info} for name, info in
                                      sorted(ratelimit.failures_by_user(ctx.store).items())]})


@api.get("/roles")
def api_roles(ctx: Context, request: Request):
    """The roles with their users, and the access rules (`passage.access.RULES`: admins may do everything)."""
    _administer(ctx)
    return respond(request, {"data": _roles(ctx.store), "rules": _rules()})


@api.get("/tokens")
def api_tokens(ctx: Context, request: Request, user: Annotated[str | None, Query(max_length=64)] = None,
               status: Annotated[str | None, Query(pattern="^(active|expired|revoked)$")] = None):
    """Every user's API tokens, newest first (never their secrets)."""
    return respond(request, {"data": auth.all_tokens(ctx.store, user_name=user, status=status,
                                                     principal=ctx.principal)})


@api.get("/tokens/default-days")
def api_default_days(ctx: Context, request: Request):
    _administer(ctx)
    return respond(request, {"days": auth.default_token_days(ctx.store)})


@api.put("/tokens/default-days")
def api_set_default_days(ctx: Context, body: DefaultDays):
    """How many days new tokens live unless created with `days` (`passage users tokens default-days`)."""
    _changing(ctx, None)
    auth.set_default_token_days(ctx.store, body.days, principal=ctx.principal)
    return _answer({"days": auth.default_token_days(ctx.store)})


@api.get("/users/{user_name}/tokens")
def api_user_tokens(ctx: Context, request: Request, user_name: UserName):
    _administer(ctx)
    return respond(request, {"data": auth.list_tokens(ctx.store, user_name)})


@api.post("/users/{user_name}/tokens", status_code=201)
def api_user_token_create(ctx: Context, user_name: UserName, body: NewToken):
    """A token for the user; its secret is in this response only. Needs a signed-in session."""
    ctx.require_session()
    _changing(ctx, None)
    token_id, secret = auth.create_token(ctx.store, user_name, body.name, days=body.days, principal=ctx.principal)
    token = next(t for t in auth.list_tokens(ctx.store, user_name) if t["token_id"] == token_id)
    return _answer({"token_id": token_id, "user_name": user_name, "name": body.name, "token": secret,
                         "expires_at": token["expires_at"].isoformat()}, status_code=201)


@api.delete("/users/{user_name}/tokens/{token_id}", status_code=204)
def api_user_token_revoke(ctx: Context, user_name: UserName, token_id: Annotated[str, PathParam(max_length=40)]):
    """Revoke a user's token for good (`passage users tokens revoke`)."""
    _changing(ctx, None)
    auth.revoke_token(ctx.store, user_name, token_id, principal=ctx.principal)
    return Response(status_code=204)


@api.get("/imports")
def api_imports(ctx: Context, request: Request, limit: Annotated[int, Query(ge=1, le=500)] = 100):
    """The import log, newest first (`passage log`)."""
    return respond(request, {"data": readable_imports(ctx.store, ctx.principal, limit)})


@api.get("/imports/{import_id}")
def api_import(ctx: Context, request: Request, import_id: int):
    """One import: counts, outcome, message, its files, and the rows it set aside with their findings."""
    return respond(request, read_import(ctx.store, ctx.principal, import_id))


@api.post("/imports/{import_id}/rollback")
def api_import_rollback(ctx: Context, import_id: int):
    """Roll a committed import back with new versions: tombstones for the records it created, the values from
    before it for those it changed (`passage rollback`). 409 when a record changed after it or rows are held."""
    _changing(ctx, None)
    return _answer(rollback_import(ctx.store, import_id, principal=ctx.principal))


@api.get("/releases")
def api_releases(ctx: Context, request: Request, dataset: Annotated[str | None, Query(max_length=80)] = None,
                 limit: Annotated[int, Query(ge=1, le=500)] = 100):
    _administer(ctx)
    return respond(request, {"data": releases.releases(ctx.store, dataset=dataset, limit=limit)})


@api.post("/releases", status_code=201)
def api_release_create(ctx: Context, body: NewRelease):
    """Release a dataset for a country as it stands now (`passage publish`)."""
    _changing(ctx, None)
    release_id = releases.publish(ctx.store, body.dataset, body.country, principal=ctx.principal, note=body.note)
    return _answer({"release_id": release_id, "dataset": body.dataset, "country": body.country}, status_code=201)


@api.delete("/releases/{release_id}")
def api_release_withdraw(ctx: Context, release_id: int):
    """Withdraw a release: readers see the country as the release before showed it, or not at all."""
    _changing(ctx, None)
    return _answer(releases.withdraw(ctx.store, release_id, principal=ctx.principal), status_code=200)


@api.get("/datasets")
def api_datasets(ctx: Context, request: Request):
    """Every dataset's visibility and, per country with records, its releases (0: unpublished)."""
    _administer(ctx)
    return respond(request, {"data": _visibility(ctx.store)})


@api.put("/datasets/{name}/visibility")
def api_dataset_visibility(ctx: Context, name: str, body: Visibility):
    """Public (anyone reads its releases) or restricted (signed-in users of its places)."""
    _changing(ctx, None)
    releases.set_visibility(ctx.store, name, body.visibility, principal=ctx.principal)
    return _answer({"name": name, "visibility": body.visibility})


@api.put("/datasets/{name}/countries/{iso3}/release", status_code=201)
def api_country_publish(ctx: Context, name: str, iso3: ISO3, body: Annotated[Note | None, Body()] = None):
    """Publish the dataset for the country as it stands now (a new release)."""
    _changing(ctx, None)
    release_id = releases.publish(ctx.store, name, iso3, principal=ctx.principal, note=body.note if body else None)
    return _answer({"release_id": release_id, "dataset": name, "country": iso3}, status_code=201)


@api.delete("/datasets/{name}/countries/{iso3}/release")
def api_country_unpublish(ctx: Context, name: str, iso3: ISO3):
    """Unpublish the dataset for the country: every release of it is withdrawn."""
    _changing(ctx, None)
    return _answer({"dataset": name, "country": iso3,
                         "withdrawn": releases.unpublish(ctx.store, name, iso3, principal=ctx.principal)})


@api.get("/audit")
def api_audit(ctx: Context, request: Request, user: Annotated[str | None, Query(max_length=64)] = None,
              action: Annotated[str | None, Query(max_length=60, description="Exact, or a family: `user.`")] = None,
              before: Annotated[int | None, Query(ge=1, description="Entries older than this audit id")] = None,
              limit: Annotated[int, Query(ge=1, le=1000)] = 100):
    """The audit log, newest first (`passage audit`)."""
    _administer(ctx)
    return respond(request, {"data": auth.audit_entries(ctx.store, limit=limit, user_name=user, action=action,
                                                        before_id=before)})


@api.get("/backup", responses={200: {"description": "The backup file (`passage backup`)",
                                     "content": {"application/zip": {}}}})
def api_backup(ctx: Context):
    """A consistent snapshot of the whole store as one zip file, taken while the portal runs (`passage backup`:
    tables as Parquet, archived files, a manifest with a sha256 for each). Admins only."""
    import tempfile
    from pathlib import Path

    from starlette.background import BackgroundTask
    from starlette.responses import FileResponse

    from passage.store.backup import backup

    _administer(ctx)
    folder = Path(tempfile.mkdtemp(prefix="passage-backup-"))
    name = f"passage-backup-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.zip"
    backup(ctx.store, folder / name, principal=ctx.principal)
    return FileResponse(folder / name, media_type="application/zip", filename=name,
                        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True))


router = APIRouter()
router.include_router(pages)
router.include_router(api)
