"""API tokens end: with a new password, a disabled account, and their expiry; only a session makes one.

Expiry is tested by creating tokens with a short lifetime and moving `expires_at` into the past in the store,
never by sleeping.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from passage.auth import (
    Principal,
    add_user,
    audit_entries,
    create_token,
    default_token_days,
    list_tokens,
    set_default_token_days,
    set_password,
    token_principal,
    update_user,
)
from passage.auth.audit import now
from passage.auth.tokens import DEFAULT_DAYS, MAX_DAYS
from passage.errors import AuthError, UsageError
from passage.store import open_store
from passage.store.migrations import migrate
from passage.web.app import create_app

ROOT = Principal("root", "admin")

PASSWORD = "correct horse battery"
NEW_PASSWORD = "a different long secret"


def _expire(store, token_id: str) -> None:
    store.execute("UPDATE api_tokens SET expires_at = ? WHERE token_id = ?", [now() - timedelta(seconds=1), token_id])


# ---- the library --------------------------------------------------------------------------------------------

def test_a_new_password_ends_every_token(any_store):
    add_user(any_store, "root", PASSWORD, "admin")
    add_user(any_store, "amina", PASSWORD, "editor", ["NGA"])
    add_user(any_store, "musa", PASSWORD, "viewer", ["TCD"])
    (id1, laptop), (id2, script) = create_token(any_store, "amina", "laptop"), create_token(any_store, "amina", "sync")
    _, other = create_token(any_store, "musa", "laptop")
    assert token_principal(any_store, laptop) and token_principal(any_store, script)
    set_password(any_store, "amina", NEW_PASSWORD, principal=ROOT)
    assert token_principal(any_store, laptop) is None and token_principal(any_store, script) is None
    assert token_principal(any_store, other).user_name == "musa"  # another user's tokens are untouched
    assert {t["token_id"]: t["status"] for t in list_tokens(any_store, "amina")} == {id1: "revoked", id2: "revoked"}
    revoked = audit_entries(any_store, action="token.revoke")
    assert sorted(e["detail"]["token_id"] for e in revoked) == sorted([id1, id2])
    assert {(e["user_name"], e["target"], e["detail"]["reason"]) for e in revoked} == {("root", "amina", "password")}
    # A token made after the change works.
    _, fresh = create_token(any_store, "amina", "laptop again")
    assert token_principal(any_store, fresh).user_name == "amina"


def test_disabling_ends_tokens_for_good(any_store):
    add_user(any_store, "root", PASSWORD, "admin")
    add_user(any_store, "amina", PASSWORD, "editor", ["NGA"])
    token_id, secret = create_token(any_store, "amina", "laptop")
    update_user(any_store, "amina", disabled=True, principal=ROOT)
    assert token_principal(any_store, secret) is None
    with pytest.raises(AuthError) as excinfo:
        create_token(any_store, "amina", "while disabled")
    assert excinfo.value.code == "auth.disabled"
    update_user(any_store, "amina", disabled=False, principal=ROOT)
    assert token_principal(any_store, secret) is None  # enabling again does not bring it back
    [token] = list_tokens(any_store, "amina")
    assert token["status"] == "revoked" and token["revoked_at"] is not None
    entry = audit_entries(any_store, action="token.revoke")[0]
    assert (entry["user_name"], entry["detail"]) == ("root", {"reason": "disabled", "token_id": token_id})


def test_tokens_expire(any_store):
    add_user(any_store, "amina", PASSWORD, "editor", ["NGA"])
    week_id, week = create_token(any_store, "amina", "a week", days=7)
    default_id, default = create_token(any_store, "amina", "default")
    tokens = {t["token_id"]: t for t in list_tokens(any_store, "amina")}
    assert tokens[week_id]["expires_at"] - tokens[week_id]["created_at"] == timedelta(days=7)
    assert tokens[default_id]["expires_at"] - tokens[default_id]["created_at"] == timedelta(days=DEFAULT_DAYS) \
        == timedelta(days=90)
    assert token_principal(any_store, week).user_name == "amina"
    _expire(any_store, week_id)
    assert token_principal(any_store, week) is None
    assert token_principal(any_store, default).user_name == "amina"
    tokens = {t["token_id"]: t for t in list_tokens(any_store, "amina")}
    assert (tokens[week_id]["status"], tokens[week_id]["revoked_at"]) == ("expired", None)
    assert tokens[default_id]["status"] == "active"
    for bad in (0, -1, MAX_DAYS + 1, "30", 1.5, True):
        with pytest.raises(UsageError) as excinfo:
            create_token(any_store, "amina", "bad", days=bad)
        assert excinfo.value.code == "auth.bad_token_days"
    assert len(list_tokens(any_store, "amina")) == 2


def test_the_store_sets_the_default_lifetime(any_store):
    add_user(any_store, "amina", PASSWORD, "editor", ["NGA"])
    assert default_token_days(any_store) == DEFAULT_DAYS
    set_default_token_days(any_store, 30, principal=ROOT)
    set_default_token_days(any_store, 30, principal=ROOT)  # unchanged: one audit entry
    assert default_token_days(any_store) == 30
    token_id, _ = create_token(any_store, "amina", "laptop")
    [token] = list_tokens(any_store, "amina")
    assert token["expires_at"] - token["created_at"] == timedelta(days=30)
    assert [e["detail"] for e in audit_entries(any_store, action="settings.token_days")] == [{"from": 90, "to": 30}]
    with pytest.raises(UsageError):
        set_default_token_days(any_store, MAX_DAYS + 1)
    assert default_token_days(any_store) == 30


def test_tokens_from_before_expiry_get_the_default_lifetime(any_store):
    """A store made before tokens expired gains the column by `passage migrate` (the core's migration 0001);
    old tokens expire 90 days after creation."""
    add_user(any_store, "amina", PASSWORD, "editor", ["NGA"])
    recent_id, recent = create_token(any_store, "amina", "recent")
    old_id, old = create_token(any_store, "amina", "old")
    any_store.execute("ALTER TABLE api_tokens DROP COLUMN expires_at")  # as the table was
    any_store.execute("UPDATE api_tokens SET created_at = ? WHERE token_id = ?", [now() - timedelta(days=100), old_id])
    any_store.execute("DELETE FROM schema_migrations WHERE pack = 'core' AND migration = 1")  # as the store was
    assert [a.migration.label for a in migrate(any_store, dry_run=True)] == ["core 0001 baseline"]
    migrate(any_store)
    tokens = {t["token_id"]: t for t in list_tokens(any_store, "amina")}
    for t in tokens.values():
        assert t["expires_at"] - t["created_at"] == timedelta(days=90)
    assert (tokens[recent_id]["status"], tokens[old_id]["status"]) == ("active", "expired")
    assert token_principal(any_store, recent).user_name == "amina" and token_principal(any_store, old) is None
    migrate(any_store)  # twice changes nothing
    assert {t["token_id"]: t["expires_at"] for t in list_tokens(any_store, "amina")} == \
        {i: t["expires_at"] for i, t in tokens.items()}


# ---- the command line ---------------------------------------------------------------------------------------

def _cli(store_path, *args):
    from passage.cli import main

    return CliRunner().invoke(main, ["--db", str(store_path), *args])  # as the store's operator


def test_cli_creates_lists_and_sets_the_default(store_path):
    with open_store(str(store_path)) as store:
        add_user(store, "amina", PASSWORD, "editor", ["NGA"])
    week = _cli(store_path, "users", "tokens", "create", "amina", "--name", "laptop", "--days", "7")
    assert week.exit_code == 0, week.output
    week_id = week.stdout.strip().split("_")[1]
    assert _cli(store_path, "users", "tokens", "create", "amina", "--name", "x", "--days", "0").exit_code == 2
    assert _cli(store_path, "users", "tokens", "default-days").stdout.strip() == "90"
    assert _cli(store_path, "users", "tokens", "default-days", "30").stdout.strip() == "30"
    month = _cli(store_path, "users", "tokens", "create", "amina", "--name", "sync")
    month_id = month.stdout.strip().split("_")[1]
    with open_store(str(store_path)) as store:
        _expire(store, week_id)
    listed = {t["token_id"]: t for t in json.loads(_cli(store_path, "users", "tokens", "list", "amina",
                                                        "--format", "json").stdout)}
    assert listed[week_id]["status"] == "expired" and listed[month_id]["status"] == "active"
    with open_store(str(store_path)) as store:
        [expiry] = [t["expires_at"] for t in list_tokens(store, "amina") if t["token_id"] == month_id]
    assert str(expiry)[:10] in month.stderr  # creation says when it ends
    table = _cli(store_path, "users", "tokens", "list", "amina").stdout
    header, *rows = [line for line in table.splitlines() if line.strip() and not set(line) <= set("-+ |")]
    assert "expires_at" in header and "status" in header
    month_row = next(r for r in rows if month_id in r)
    assert str(expiry)[:19] in month_row and "active" in month_row
    assert "expired" in next(r for r in rows if week_id in r)


# ---- over HTTP ----------------------------------------------------------------------------------------------

@pytest.fixture
def app_db(store_path):
    with open_store(str(store_path)) as store:
        add_user(store, "amina", PASSWORD, "editor", ["NGA"])
    return str(store_path)


def _signed_in(app) -> tuple[TestClient, str]:
    c = TestClient(app, follow_redirects=False)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text).group(1)
    r = c.post("/login", data={"user_name": "amina", "password": PASSWORD, "csrf_token": csrf, "next": "/"})
    assert r.status_code == 303
    return c, re.search(r'"X-CSRF-Token": "([^"]+)"', c.get("/").text).group(1)


def test_a_token_cannot_mint_a_token(app_db):
    app = create_app(app_db)
    session, csrf = _signed_in(app)
    with session:
        created = session.post("/api/v1/tokens", data={"name": "script", "days": "7"}, headers={"X-CSRF-Token": csrf})
        assert created.status_code == 201
        body = created.json()
        bearer = {"Authorization": f"Bearer {body['token']}"}
        assert session.get("/api/v1/me", headers=bearer).json()["user"] == "amina"
        refused = session.post("/api/v1/tokens", data={"name": "minted"}, headers=bearer)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "auth.session_required"
        page = session.post("/account/tokens", data={"name": "minted"}, headers=bearer)
        assert page.status_code == 403
        listed = session.get("/api/v1/tokens").json()["data"]
        assert [t["name"] for t in listed] == ["script"]
        assert body["expires_at"] == listed[0]["expires_at"]
        with open_store(app_db) as store:
            [token] = list_tokens(store, "amina")
        assert token["expires_at"] - token["created_at"] == timedelta(days=7)


def test_expired_and_ended_tokens_are_refused_over_http(app_db):
    app = create_app(app_db)
    session, csrf = _signed_in(app)
    with session:
        tokens = [session.post("/api/v1/tokens", data={"name": n}, headers={"X-CSRF-Token": csrf}).json()
                  for n in ("expiring", "ended")]
        with open_store(app_db) as store:
            _expire(store, tokens[0]["token_id"])
        r = session.get("/api/v1/me", headers={"Authorization": f"Bearer {tokens[0]['token']}"})
        assert r.status_code == 401 and r.json()["error"]["code"] == "auth.bad_token"
        ok = session.get("/api/v1/me", headers={"Authorization": f"Bearer {tokens[1]['token']}"})
        assert ok.json()["user"] == "amina"
        with open_store(app_db) as store:
            set_password(store, "amina", NEW_PASSWORD)
        r = session.get("/api/v1/me", headers={"Authorization": f"Bearer {tokens[1]['token']}"})
        assert r.status_code == 401


def test_the_account_page_shows_expiry_and_takes_a_lifetime(app_db):
    with open_store(app_db) as store:
        set_default_token_days(store, 45)
    app = create_app(app_db)
    session, csrf = _signed_in(app)
    with session:
        page = session.get("/account").text
        assert re.search(r'<input name="days" type="number" min="1" max="365" value="45"', page)
        made = session.post("/account/tokens", data={"name": "laptop", "days": "10", "csrf_token": csrf})
        assert made.status_code == 200 and 'id="new-token"' in made.text
        kept = session.post("/account/tokens", data={"name": "server", "csrf_token": csrf})
        assert kept.status_code == 200
        with open_store(app_db) as store:
            tokens = {t["name"]: t for t in list_tokens(store, "amina")}
            assert tokens["laptop"]["expires_at"] - tokens["laptop"]["created_at"] == timedelta(days=10)
            assert tokens["server"]["expires_at"] - tokens["server"]["created_at"] == timedelta(days=45)
            _expire(store, tokens["laptop"]["token_id"])
            tokens = {t["name"]: t for t in list_tokens(store, "amina")}
        page = session.get("/account").text
        for name in ("laptop", "server"):
            t = tokens[name]
            row = re.search(rf'<tr data-token="{t["token_id"]}" data-status="(\w+)">.*?</tr>', page, re.DOTALL)
            assert f'<time datetime="{t["expires_at"].isoformat()}">' in row.group(0)
        assert re.search(rf'data-token="{tokens["laptop"]["token_id"]}" data-status="expired"', page)
        assert re.search(rf'data-token="{tokens["server"]["token_id"]}" data-status="active"', page)
