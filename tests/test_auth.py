"""Users, roles and scopes, passwords, sign-in rate limiting, sessions, API tokens, the audit log, the CLI."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest
from click.testing import CliRunner

from passage.access import Place, Places, allowed
from passage.auth import (
    PUBLIC,
    SESSION_HOURS,
    Principal,
    add_user,
    audit,
    audit_entries,
    authenticate,
    create_session,
    create_token,
    csrf_matches,
    end_session,
    get_principal,
    list_tokens,
    list_users,
    revoke_token,
    session_principal,
    set_password,
    token_principal,
    update_user,
)
from passage.auth.audit import now
from passage.auth.ratelimit import POLICY
from passage.errors import AuthError, NotFound, UsageError

ROOT = Principal("root", "admin")
PASSWORD = "correct horse battery"
OTHER_PASSWORD = "another long secret"


def _code(excinfo) -> str:
    return excinfo.value.code


def _actions(store) -> list[str]:
    return [r[0] for r in store.query("SELECT action FROM audit_log ORDER BY audit_id")]


# ---- principals and scopes ---------------------------------------------------------------------------

NGA_EDITOR = Principal("amina", "editor", frozenset({"NGA"}))
ADAMAWA_EDITOR = Principal("musa", "editor", frozenset({"NG002"}))
LAC_VIEWER = Principal("idriss", "viewer", frozenset({"TCD07"}))
ADMIN = Principal("root", "admin")


@pytest.mark.parametrize("principal, country, place, covered", [
    (NGA_EDITOR, "NGA", None, True),
    (NGA_EDITOR, "NGA", "NG002001", True),
    (NGA_EDITOR, "TCD", None, False),
    (NGA_EDITOR, "TCD", "TCD07", False),
    (ADAMAWA_EDITOR, "NGA", "NG002001", True),
    (ADAMAWA_EDITOR, "NGA", "NG002", True),
    (ADAMAWA_EDITOR, "NGA", "NG008", False),
    (ADAMAWA_EDITOR, "NGA", "NG008001", False),
    (ADAMAWA_EDITOR, "NGA", None, False),  # a state's editor does not answer for the whole country
    (LAC_VIEWER, "TCD", "TCD0701", True),
    (LAC_VIEWER, "TCD", "TCD01", False),
    (ADMIN, "SSD", None, True),
    (ADMIN, "AFG", "AF0101", True),
    (PUBLIC, "NGA", None, False),
    (PUBLIC, "NGA", "NG002001", False),
])
def test_scope_coverage(principal, country, place, covered):
    assert principal.covers(country, place) is covered
    assert allowed(principal, "read-document", Places((Place(country, place),))) is covered


def test_only_admins_and_covering_editors_can_edit():
    assert allowed(NGA_EDITOR, "edit-records", Place("NGA", "NG002001"))
    assert not allowed(NGA_EDITOR, "edit-records", Place("TCD"))
    assert allowed(ADMIN, "edit-records", Place("TCD"))
    assert not allowed(LAC_VIEWER, "edit-records", Place("TCD", "TCD0701"))  # covered, but a viewer
    assert not allowed(PUBLIC, "edit-records", Place("NGA"))
    assert PUBLIC.is_public and not PUBLIC.is_admin and ADMIN.is_admin and not NGA_EDITOR.is_public


def test_countries_and_prefixes_split_the_scopes():
    p = Principal("x", "viewer", frozenset({"NGA", "TCD07", "NG002"}))
    assert p.countries() == frozenset({"NGA"})
    assert p.place_prefixes() == frozenset({"TCD07", "NG002"})
    with pytest.raises(ValueError):
        Principal("x", "superuser")


# ---- users and passwords -----------------------------------------------------------------------------

def test_password_is_argon2_and_never_stored(any_store):
    add_user(any_store, "amina", PASSWORD, "editor", ["nga", "NG002"], display_name="Amina Bello",
             email="amina@example.org", principal=ROOT)
    stored = any_store.scalar("SELECT password_hash FROM users WHERE user_name = 'amina'")
    assert stored.startswith("$argon2id$")
    everything = json.dumps([any_store.query(f"SELECT * FROM {t}") for t in ("users", "user_scopes", "audit_log")],
                            default=str)
    assert PASSWORD not in everything
    [user] = list_users(any_store)
    assert user["user_name"] == "amina" and user["role"] == "editor" and user["disabled"] is False
    assert user["scopes"] == ["NG002", "NGA"]  # normalised to upper case, sorted
    assert user["display_name"] == "Amina Bello" and user["email"] == "amina@example.org"
    assert user["created_at"] is not None and "password_hash" not in user
    assert get_principal(any_store, "amina") == Principal("amina", "editor", frozenset({"NGA", "NG002"}))


@pytest.mark.parametrize("name, password, role, scopes, error, code", [
    ("amina", "short", "editor", ["NGA"], UsageError, "auth.weak_password"),
    ("Amina", PASSWORD, "editor", ["NGA"], UsageError, "auth.bad_user_name"),
    ("a", PASSWORD, "editor", ["NGA"], UsageError, "auth.bad_user_name"),
    ("-amina", PASSWORD, "editor", ["NGA"], UsageError, "auth.bad_user_name"),
    ("amina bello", PASSWORD, "editor", ["NGA"], UsageError, "auth.bad_user_name"),
    ("amina", PASSWORD, "owner", ["NGA"], UsageError, "auth.bad_role"),
    ("amina", PASSWORD, "admin", ["NGA"], UsageError, "auth.admin_scopes"),
    ("amina", PASSWORD, "editor", [], UsageError, "auth.no_scope"),
    ("amina", PASSWORD, "viewer", ["NGA", "XX999", "ZZZ"], NotFound, "not_found"),
])
def test_add_user_refuses_bad_input(store, name, password, role, scopes, error, code):
    with pytest.raises(error) as excinfo:
        add_user(store, name, password, role, scopes)
    assert _code(excinfo) == code
    if error is NotFound:
        assert "XX999" in str(excinfo.value) and "ZZZ" in str(excinfo.value) and "NGA" not in str(excinfo.value)
    assert store.scalar("SELECT count(*) FROM users") == 0
    assert store.scalar("SELECT count(*) FROM audit_log") == 0


def test_duplicate_user_is_refused(any_store):
    add_user(any_store, "amina", PASSWORD, "viewer", ["NGA"])
    with pytest.raises(UsageError) as excinfo:
        add_user(any_store, "amina", OTHER_PASSWORD, "admin")
    assert _code(excinfo) == "auth.user_exists"
    assert any_store.scalar("SELECT role FROM users WHERE user_name = 'amina'") == "viewer"


def test_update_user_changes_role_scopes_and_details(any_store):
    add_user(any_store, "root", PASSWORD, "admin")
    add_user(any_store, "amina", PASSWORD, "editor", ["NGA"])
    update_user(any_store, "amina", role="viewer", scopes=["TCD07", "NG002"], email="a@example.org", principal=ROOT)
    assert get_principal(any_store, "amina") == Principal("amina", "viewer", frozenset({"TCD07", "NG002"}))
    update_user(any_store, "amina", role="admin", principal=ROOT)  # becoming admin drops the scopes
    assert get_principal(any_store, "amina").scopes == frozenset()
    assert any_store.scalar("SELECT count(*) FROM user_scopes WHERE user_name = 'amina'") == 0
    with pytest.raises(UsageError) as excinfo:
        update_user(any_store, "amina", role="editor")  # an editor needs scopes
    assert _code(excinfo) == "auth.no_scope"
    with pytest.raises(UsageError) as excinfo:
        update_user(any_store, "amina", email="not-an-address")
    assert _code(excinfo) == "auth.bad_email"
    with pytest.raises(NotFound):
        update_user(any_store, "nobody", role="viewer", scopes=["NGA"])
    with pytest.raises(NotFound):
        update_user(any_store, "amina", role="viewer", scopes=["NGA", "NOPE1"])
    assert get_principal(any_store, "amina").role == "admin"  # refused updates change nothing
    before = len(_actions(any_store))
    update_user(any_store, "amina", role="admin", principal=ROOT)  # no change, no audit entry
    assert len(_actions(any_store)) == before


def test_the_last_enabled_admin_stays(any_store):
    add_user(any_store, "root", PASSWORD, "admin")
    for change in ({"disabled": True}, {"role": "viewer", "scopes": ["NGA"]}):
        with pytest.raises(UsageError) as excinfo:
            update_user(any_store, "root", **change)
        assert _code(excinfo) == "auth.last_admin"
    add_user(any_store, "ops", PASSWORD, "admin")
    update_user(any_store, "root", disabled=True, principal=Principal("ops", "admin"))
    with pytest.raises(AuthError) as excinfo:
        get_principal(any_store, "root")
    assert _code(excinfo) == "auth.disabled"
    with pytest.raises(UsageError):
        update_user(any_store, "ops", role="editor", scopes=["NGA"])


# ---- signing in and rate limiting --------------------------------------------------------------------

def test_authenticate(any_store):
    add_user(any_store, "amina", PASSWORD, "editor", ["NGA"])
    principal = authenticate(any_store, "amina", PASSWORD, ip="10.0.0.7")
    assert principal == Principal("amina", "editor", frozenset({"NGA"}))
    assert authenticate(any_store, "  Amina ", PASSWORD).user_name == "amina"  # names are case-insensitive
    with pytest.raises(AuthError) as wrong_password:
        authenticate(any_store, "amina", OTHER_PASSWORD, ip="10.0.0.7")
    with pytest.raises(AuthError) as unknown_user:
        authenticate(any_store, "nobody", PASSWORD, ip="10.0.0.7")
    for excinfo in (wrong_password, unknown_user):  # the same answer either way
        assert _code(excinfo) == "auth.invalid" and excinfo.value.http_status == 401
        assert str(excinfo.value) == "wrong user name or password"
    with pytest.raises(NotFound):
        get_principal(any_store, "nobody")


def test_disabled_users_cannot_sign_in(any_store):
    add_user(any_store, "amina", PASSWORD, "editor", ["NGA"])
    update_user(any_store, "amina", disabled=True)
    with pytest.raises(AuthError) as excinfo:
        authenticate(any_store, "amina", PASSWORD)
    assert _code(excinfo) == "auth.disabled"
    with pytest.raises(AuthError) as excinfo:
        authenticate(any_store, "amina", OTHER_PASSWORD)  # a wrong password does not learn it is disabled
    assert _code(excinfo) == "auth.invalid"
    update_user(any_store, "amina", disabled=False)
    assert authenticate(any_store, "amina", PASSWORD).role == "editor"


def test_rate_limit_at_the_sixth_attempt_and_success_resets(any_store):
    add_user(any_store, "amina", PASSWORD, "editor", ["NGA"])
    for _ in range(4):
        with pytest.raises(AuthError, match="wrong"):
            authenticate(any_store, "amina", OTHER_PASSWORD, ip="10.0.0.1")
    authenticate(any_store, "amina", PASSWORD, ip="10.0.0.1")  # success clears the failures at this address
    for _ in range(5):
        with pytest.raises(AuthError) as excinfo:
            authenticate(any_store, "amina", OTHER_PASSWORD, ip="10.0.0.1")
        assert _code(excinfo) == "auth.invalid"
    with pytest.raises(AuthError) as excinfo:
        authenticate(any_store, "amina", PASSWORD, ip="10.0.0.1")  # refused before the password is checked
    assert _code(excinfo) == "auth.rate_limited"
    assert excinfo.value.http_status == 429
    assert 0 < excinfo.value.retry_after <= POLICY.base_delay.total_seconds()
    refused = audit_entries(any_store, limit=1)[0]
    assert (refused["action"], refused["target"], refused["ip"], refused["detail"]) == \
        ("auth.sign_in_failed", "amina", "10.0.0.1", {"reason": "rate_limited"})
    # Failures older than the window no longer count.
    any_store.execute("UPDATE login_attempts SET occurred_at = ?",
                      [now() - POLICY.pair_window - timedelta(minutes=1)])
    assert authenticate(any_store, "amina", PASSWORD, ip="10.0.0.1").user_name == "amina"


def test_sign_ins_are_audited_without_secrets(any_store):
    add_user(any_store, "amina", PASSWORD, "editor", ["NGA"])
    authenticate(any_store, "amina", PASSWORD, ip="10.0.0.7")
    with pytest.raises(AuthError):
        authenticate(any_store, "amina", OTHER_PASSWORD, ip="10.0.0.8")
    with pytest.raises(AuthError):
        authenticate(any_store, OTHER_PASSWORD, PASSWORD, ip="10.0.0.9")  # a password typed as the name
    failed_unknown, failed, signed_in = audit_entries(any_store, action="auth.")
    assert (signed_in["action"], signed_in["user_name"], signed_in["target"], signed_in["ip"]) == \
        ("auth.sign_in", "amina", "amina", "10.0.0.7")
    assert (failed["action"], failed["user_name"], failed["target"], failed["ip"]) == \
        ("auth.sign_in_failed", None, "amina", "10.0.0.8")
    assert failed["detail"] == {"reason": "wrong_password"}
    assert failed_unknown["target"] is None and failed_unknown["detail"] == {"reason": "unknown_user"}
    log = json.dumps(any_store.query("SELECT * FROM audit_log"), default=str)
    assert PASSWORD not in log and OTHER_PASSWORD not in log


# ---- sessions ----------------------------------------------------------------------------------------

def test_sessions(any_store):
    add_user(any_store, "amina", PASSWORD, "editor", ["NGA"])
    token, csrf = create_session(any_store, "amina", ip="10.0.0.7")
    assert len(token) >= 40 and len(csrf) >= 40 and token != csrf
    session_hash, created, expires = any_store.query("SELECT session_hash, created_at, expires_at FROM sessions")[0]
    assert session_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in json.dumps(any_store.query("SELECT * FROM sessions"), default=str)
    assert expires - created == timedelta(hours=SESSION_HOURS) == timedelta(hours=12)
    principal, session_csrf = session_principal(any_store, token)
    assert principal == Principal("amina", "editor", frozenset({"NGA"})) and session_csrf == csrf
    assert csrf_matches(session_csrf, csrf) and not csrf_matches(session_csrf, csrf[:-1] + "x")
    assert not csrf_matches(session_csrf, None) and not csrf_matches(None, None)
    assert session_principal(any_store, token + "x") is None
    assert session_principal(any_store, "") is None
    # Role and scope changes apply to live sessions at once.
    update_user(any_store, "amina", scopes=["TCD"])
    assert session_principal(any_store, token)[0].scopes == frozenset({"TCD"})
    end_session(any_store, token, ip="10.0.0.7")
    assert session_principal(any_store, token) is None
    assert audit_entries(any_store, limit=1)[0]["action"] == "auth.sign_out"
    end_session(any_store, token)  # twice is harmless


def test_expired_sessions_are_refused_and_deleted(any_store):
    add_user(any_store, "amina", PASSWORD, "editor", ["NGA"])
    token, _ = create_session(any_store, "amina")
    keep, _ = create_session(any_store, "amina")
    any_store.execute("UPDATE sessions SET expires_at = ? WHERE session_hash = ?",
                      [now() - timedelta(seconds=1), hashlib.sha256(token.encode()).hexdigest()])
    assert session_principal(any_store, token) is None
    assert any_store.scalar("SELECT count(*) FROM sessions") == 1
    assert session_principal(any_store, keep) is not None


def test_disabling_or_a_new_password_ends_sessions(any_store):
    add_user(any_store, "root", PASSWORD, "admin")
    add_user(any_store, "amina", PASSWORD, "editor", ["NGA"])
    first, _ = create_session(any_store, "amina")
    set_password(any_store, "amina", OTHER_PASSWORD, principal=ROOT)
    assert session_principal(any_store, first) is None
    with pytest.raises(AuthError):
        authenticate(any_store, "amina", PASSWORD)
    assert authenticate(any_store, "amina", OTHER_PASSWORD).user_name == "amina"
    second, _ = create_session(any_store, "amina")
    update_user(any_store, "amina", disabled=True, principal=ROOT)
    assert session_principal(any_store, second) is None
    assert any_store.scalar("SELECT count(*) FROM sessions WHERE user_name = 'amina'") == 0
    with pytest.raises(AuthError) as excinfo:
        create_session(any_store, "amina")
    assert _code(excinfo) == "auth.disabled"


def test_a_session_of_a_user_disabled_meanwhile_is_refused(any_store):
    add_user(any_store, "amina", PASSWORD, "editor", ["NGA"])
    token, _ = create_session(any_store, "amina")
    any_store.execute("UPDATE users SET disabled = true WHERE user_name = 'amina'")  # e.g. by another process
    assert session_principal(any_store, token) is None


# ---- API tokens --------------------------------------------------------------------------------------

def test_tokens_create_use_revoke(any_store):
    add_user(any_store, "amina", PASSWORD, "editor", ["NGA"])
    token_id, secret = create_token(any_store, "amina", "laptop", principal=get_principal(any_store, "amina"))
    assert secret.startswith(f"psg_{token_id}_") and len(secret) > 50
    assert any_store.scalar("SELECT token_hash FROM api_tokens") == hashlib.sha256(secret.encode()).hexdigest()
    assert secret.split("_", 2)[2] not in json.dumps(any_store.query("SELECT * FROM api_tokens"), default=str)
    [listed] = list_tokens(any_store, "amina")
    assert set(listed) == {"token_id", "name", "created_at", "expires_at", "last_used_at", "revoked_at", "status"}
    assert listed["status"] == "active" and listed["expires_at"] - listed["created_at"] == timedelta(days=90)
    assert listed["token_id"] == token_id and listed["name"] == "laptop" and listed["last_used_at"] is None

    assert token_principal(any_store, secret) == Principal("amina", "editor", frozenset({"NGA"}))
    first_use = list_tokens(any_store, "amina")[0]["last_used_at"]
    assert first_use is not None
    token_principal(any_store, secret)
    assert list_tokens(any_store, "amina")[0]["last_used_at"] == first_use  # at most once a minute
    any_store.execute("UPDATE api_tokens SET last_used_at = ?", [now() - timedelta(minutes=2)])
    token_principal(any_store, secret)
    assert list_tokens(any_store, "amina")[0]["last_used_at"] > first_use

    for bad in (secret[:-1] + ("A" if secret[-1] != "A" else "B"), f"psg_{token_id}_", "psg_nothing", "", None,
                f"xyz_{token_id}_{secret.split('_', 2)[2]}", "psg_0000000000000000_" + secret.split("_", 2)[2]):
        assert token_principal(any_store, bad) is None

    revoke_token(any_store, "amina", token_id, principal=get_principal(any_store, "amina"))
    assert token_principal(any_store, secret) is None
    assert list_tokens(any_store, "amina")[0]["revoked_at"] is not None
    revoke_token(any_store, "amina", token_id)  # twice changes nothing
    assert _actions(any_store).count("token.revoke") == 1
    with pytest.raises(NotFound):
        revoke_token(any_store, "amina", "0000000000000000")
    with pytest.raises(NotFound):
        create_token(any_store, "nobody", "laptop")
    with pytest.raises(UsageError):
        create_token(any_store, "amina", "  ")


def test_tokens_belong_to_their_user(any_store):
    add_user(any_store, "amina", PASSWORD, "editor", ["NGA"])
    add_user(any_store, "musa", PASSWORD, "viewer", ["TCD"])
    token_id, secret = create_token(any_store, "amina", "laptop")
    with pytest.raises(NotFound):
        revoke_token(any_store, "musa", token_id)
    assert list_tokens(any_store, "musa") == []
    assert token_principal(any_store, secret).user_name == "amina"


# ---- audit -------------------------------------------------------------------------------------------

def test_every_change_is_audited(any_store):
    add_user(any_store, "root", PASSWORD, "admin")
    add_user(any_store, "amina", PASSWORD, "editor", ["NGA"], principal=ROOT)
    update_user(any_store, "amina", role="viewer", principal=ROOT)
    set_password(any_store, "amina", OTHER_PASSWORD, principal=ROOT)
    token_id, secret = create_token(any_store, "amina", "laptop", principal=get_principal(any_store, "amina"))
    revoke_token(any_store, "amina", token_id, principal=ROOT)
    assert _actions(any_store) == ["user.add", "user.add", "user.update", "user.password", "token.create",
                                   "token.revoke"]
    entries = audit_entries(any_store)
    assert [e["action"] for e in entries] == list(reversed(_actions(any_store)))  # newest first
    revoke, create, password, update, add, _ = entries
    assert (add["user_name"], add["target"], add["detail"]["role"], add["detail"]["scopes"]) == \
        ("root", "amina", "editor", ["NGA"])
    assert update["detail"] == {"role": {"from": "editor", "to": "viewer"}}
    assert password["target"] == "amina" and password["user_name"] == "root"
    assert create["detail"] == {"name": "laptop", "token_id": token_id, "days": 90}
    assert revoke["detail"] == {"token_id": token_id}
    raw = [r[0] for r in any_store.query("SELECT detail FROM audit_log WHERE detail IS NOT NULL")]
    assert all(text == json.dumps(json.loads(text), sort_keys=True) for text in raw)
    everything = json.dumps(any_store.query("SELECT * FROM audit_log"), default=str)
    assert PASSWORD not in everything and OTHER_PASSWORD not in everything and secret not in everything
    ids = [e["audit_id"] for e in entries]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)


def test_audit_entries_filter_and_page(any_store):
    for i in range(5):
        audit(any_store, "amina" if i % 2 else "musa", f"record.{'edit' if i < 3 else 'delete'}",
              target=f"dtm_idps/{i}", import_id=i, ip="10.0.0.1", detail={"n": i})
    assert [e["detail"]["n"] for e in audit_entries(any_store, user_name="amina")] == [3, 1]
    assert [e["detail"]["n"] for e in audit_entries(any_store, action="record.edit")] == [2, 1, 0]
    assert len(audit_entries(any_store, action="record.")) == 5
    assert len(audit_entries(any_store, action="record*")) == 5
    assert audit_entries(any_store, action="record") == []
    page = audit_entries(any_store, limit=2)
    assert [e["detail"]["n"] for e in page] == [4, 3]
    older = audit_entries(any_store, limit=2, before_id=page[-1]["audit_id"])
    assert [e["detail"]["n"] for e in older] == [2, 1]
    assert older[0]["import_id"] == 2 and older[0]["target"] == "dtm_idps/2" and older[0]["ip"] == "10.0.0.1"
    with pytest.raises(ValueError):
        audit(any_store, "amina", "user.password", detail={"nested": {"password": "x"}})
    assert len(audit_entries(any_store)) == 5


# ---- the command line --------------------------------------------------------------------------------

def _cli(store_path, *args, input=None, env=None):
    from passage.cli import main

    return CliRunner().invoke(main, ["--db", str(store_path), *args], input=input,  # as the store's operator
                              env=env or {"PASSAGE_PASSWORD": None})


def test_cli_round_trip(store_path):
    out = _cli(store_path, "users", "add", "amina", "--role", "editor", "--scope", "NGA", "--scope", "TCD",
               "--display-name", "Amina Bello", "--password-stdin", input=PASSWORD + "\n")
    assert out.exit_code == 0, out.output
    assert _cli(store_path, "users", "add", "root", "--role", "admin",
                env={"PASSAGE_PASSWORD": OTHER_PASSWORD}).exit_code == 0
    prompted = _cli(store_path, "users", "add", "musa", "--role", "viewer", "--scope", "NG002",
                    input=f"{PASSWORD}\n{PASSWORD}\n")
    assert prompted.exit_code == 0, prompted.output

    users = json.loads(_cli(store_path, "users", "list", "--format", "json").stdout)
    assert [(u["user_name"], u["role"], u["scopes"]) for u in users] == \
        [("amina", "editor", ["NGA", "TCD"]), ("musa", "viewer", ["NG002"]), ("root", "admin", [])]
    listed = _cli(store_path, "users", "list").stdout
    assert "amina" in listed and "NGA TCD" in listed and "Amina Bello" in listed

    assert _cli(store_path, "users", "set", "amina", "--role", "viewer", "--scope", "NG008").exit_code == 0
    assert _cli(store_path, "users", "set", "musa", "--disable").exit_code == 0
    changed = {u["user_name"]: u for u in json.loads(_cli(store_path, "users", "list", "--format", "json").stdout)}
    assert changed["amina"]["role"] == "viewer" and changed["amina"]["scopes"] == ["NG008"]
    assert changed["musa"]["disabled"] is True
    assert _cli(store_path, "users", "password", "amina", "--password-stdin",
                input=OTHER_PASSWORD + "\n").exit_code == 0

    created = _cli(store_path, "users", "tokens", "create", "amina", "--name", "laptop")
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip()
    token_id = secret.split("_")[1]
    assert "not shown again" in created.stderr
    assert token_id in _cli(store_path, "users", "tokens", "list", "amina").stdout
    assert _cli(store_path, "users", "tokens", "revoke", "amina", token_id).exit_code == 0

    from passage.store import open_store

    with open_store(str(store_path)) as store:
        assert authenticate(store, "amina", OTHER_PASSWORD).role == "viewer"
        assert token_principal(store, secret) is None
    entries = json.loads(_cli(store_path, "audit", "--format", "json", "--user", "operator").stdout)
    assert [e["action"] for e in entries] == ["token.revoke", "token.create", "user.password", "user.update",
                                              "user.update", "user.add", "user.add", "user.add"]
    assert secret not in _cli(store_path, "audit").stdout
    table = _cli(store_path, "audit", "--action", "auth.sign_in", "--limit", "5").stdout
    assert "auth.sign_in" in table and "amina" in table


def test_cli_errors_exit_2(store_path):
    weak = _cli(store_path, "users", "add", "amina", "--role", "editor", "--scope", "NGA", "--password-stdin",
                input="short\n")
    assert weak.exit_code == 2 and "at least 10" in weak.stderr
    unknown = _cli(store_path, "users", "add", "amina", "--role", "editor", "--scope", "XX999", "--password-stdin",
                   input=PASSWORD + "\n")
    assert unknown.exit_code == 2 and "XX999" in unknown.stderr
    assert _cli(store_path, "users", "set", "nobody", "--disable").exit_code == 2
    assert _cli(store_path, "users", "tokens", "list", "nobody").exit_code == 2
    assert _cli(store_path, "users", "add", "x", "--role", "owner").exit_code == 2
