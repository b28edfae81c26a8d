"""Sign-in throttling per user and address: the owner of an account under attack still gets in, back-off
doubles, 429 carries Retry-After, one address has a high ceiling, and an administrator can unlock a user.

Time is advanced by ageing the stored failures (the throttle reads them from the store), never by sleeping.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from click.testing import CliRunner
from fastapi import APIRouter
from fastapi.testclient import TestClient

from passage.auth import Principal, add_user, audit_entries, authenticate, unlock_user
from passage.auth.ratelimit import POLICY, Policy
from passage.errors import AuthError, NotFound
from passage.store import open_store
from passage.web.app import create_app

PASSWORD = "correct horse battery"
WRONG = "not the password at all"
ATTACKER = "203.0.113.9"
HOME = "10.0.0.7"


def _age(store, delta: timedelta) -> None:
    """Let `delta` pass for the throttle: every stored attempt happened that much earlier."""
    store.execute("UPDATE login_attempts SET occurred_at = occurred_at - ?", [delta])


def _fail(store, name: str, ip: str | None, password: str = WRONG, **kw) -> AuthError:
    with pytest.raises(AuthError) as excinfo:
        authenticate(store, name, password, ip=ip, **kw)
    return excinfo.value


# ---- the library --------------------------------------------------------------------------------------------

def test_the_owner_signs_in_from_elsewhere_while_one_address_hammers_the_account(any_store):
    add_user(any_store, "amina", PASSWORD, "editor", ["NGA"])
    codes = [_fail(any_store, "amina", ATTACKER).code for _ in range(12)]
    assert codes[:POLICY.free_failures] == ["auth.invalid"] * POLICY.free_failures
    assert set(codes[POLICY.free_failures:]) == {"auth.rate_limited"}  # the attacker waits…
    # …and the owner, at home, is not held up at all.
    assert authenticate(any_store, "amina", PASSWORD, ip=HOME).user_name == "amina"
    # Her success does not free the attacker's address.
    assert _fail(any_store, "amina", ATTACKER, PASSWORD).code == "auth.rate_limited"


def test_back_off_doubles_with_every_failure_up_to_the_ceiling(any_store):
    add_user(any_store, "amina", PASSWORD, "editor", ["NGA"])
    for _ in range(POLICY.free_failures):
        assert _fail(any_store, "amina", ATTACKER).code == "auth.invalid"
    waits = []
    for _ in range(4):
        refused = _fail(any_store, "amina", ATTACKER)
        assert refused.code == "auth.rate_limited" and refused.http_status == 429
        waits.append(refused.retry_after)
        _age(any_store, timedelta(seconds=refused.retry_after - 2))
        assert _fail(any_store, "amina", ATTACKER).code == "auth.rate_limited"  # not yet
        _age(any_store, timedelta(seconds=3))
        assert _fail(any_store, "amina", ATTACKER).code == "auth.invalid"  # now: one more real try
    base = int(POLICY.base_delay.total_seconds())
    assert waits == [base, 2 * base, 4 * base, 8 * base]
    # The wait stops growing at max_delay.
    for _ in range(12):
        _age(any_store, POLICY.max_delay)
        assert _fail(any_store, "amina", ATTACKER).code == "auth.invalid"
    assert _fail(any_store, "amina", ATTACKER).retry_after == int(POLICY.max_delay.total_seconds())
    # A success from that address clears its count.
    _age(any_store, POLICY.max_delay)
    assert authenticate(any_store, "amina", PASSWORD, ip=ATTACKER).user_name == "amina"
    assert _fail(any_store, "amina", ATTACKER).code == "auth.invalid"


def test_one_office_behind_one_address_is_not_locked_out_by_a_few_typos(store):
    """The old limit (20 failures per address in 15 minutes) locked out everyone behind a NAT."""
    for i in range(6):
        add_user(store, f"staff{i}", PASSWORD, "viewer", ["NGA"])
    for i in range(6):
        for _ in range(4):  # 24 failures from one address, none of them a throttled user
            assert _fail(store, f"staff{i}", HOME).code == "auth.invalid"
    assert authenticate(store, "staff0", PASSWORD, ip=HOME).user_name == "staff0"
    assert POLICY.address_max_failures >= 100


def test_the_per_address_ceiling_holds(any_store):
    policy = Policy(address_max_failures=8, address_window=timedelta(minutes=15))
    add_user(any_store, "amina", PASSWORD, "editor", ["NGA"])
    for i in range(8):  # one address trying many names, each only once
        assert _fail(any_store, f"guess{i}", ATTACKER, policy=policy).code == "auth.invalid"
    refused = _fail(any_store, "amina", ATTACKER, PASSWORD, policy=policy)  # the right password, but the ceiling
    assert refused.code == "auth.rate_limited" and 0 < refused.retry_after <= 15 * 60
    assert _fail(any_store, "someone-new", ATTACKER, policy=policy).code == "auth.rate_limited"
    assert authenticate(any_store, "amina", PASSWORD, ip=HOME, policy=policy).user_name == "amina"
    # An unlock is about the user, not the address: the ceiling stays until the failures age out.
    unlock_user(any_store, "amina", principal=Principal("root", "admin"))
    assert _fail(any_store, "amina", ATTACKER, PASSWORD, policy=policy).code == "auth.rate_limited"
    _age(any_store, timedelta(minutes=15, seconds=1))
    assert authenticate(any_store, "amina", PASSWORD, ip=ATTACKER, policy=policy).user_name == "amina"


def test_an_admin_unlocks_a_user_at_every_address(any_store):
    add_user(any_store, "root", PASSWORD, "admin")
    add_user(any_store, "amina", PASSWORD, "editor", ["NGA"])
    for ip in (ATTACKER, HOME):
        for _ in range(POLICY.free_failures):
            _fail(any_store, "amina", ip)
        assert _fail(any_store, "amina", ip, PASSWORD).code == "auth.rate_limited"
    for _ in range(3):
        _fail(any_store, "root", ATTACKER)  # someone else's failures stay
    assert unlock_user(any_store, "amina", principal=Principal("root", "admin")) == 2 * POLICY.free_failures
    assert authenticate(any_store, "amina", PASSWORD, ip=HOME).user_name == "amina"
    assert _fail(any_store, "amina", ATTACKER).code == "auth.invalid"  # counting starts again
    entry = audit_entries(any_store, action="user.unlock")[0]
    assert (entry["user_name"], entry["target"], entry["detail"]) == \
        ("root", "amina", {"failures_cleared": 2 * POLICY.free_failures})
    assert any_store.scalar("SELECT count(*) FROM login_attempts WHERE key LIKE 'user:root|%' AND NOT ok") == 3
    with pytest.raises(NotFound):
        unlock_user(any_store, "nobody")


def test_cli_unlock(store_path):
    from passage.cli import main

    with open_store(str(store_path)) as store:
        add_user(store, "amina", PASSWORD, "editor", ["NGA"])
        add_user(store, "ops", PASSWORD, "admin")
        for _ in range(POLICY.free_failures):
            _fail(store, "amina", ATTACKER)
        assert _fail(store, "amina", ATTACKER, PASSWORD).code == "auth.rate_limited"
    out = CliRunner().invoke(main, ["--db", str(store_path), "--user", "ops", "users", "unlock", "amina"])
    assert out.exit_code == 0, out.output
    assert f"{POLICY.free_failures} failed sign-ins forgotten" in out.stdout
    assert CliRunner().invoke(main, ["--db", str(store_path), "users", "unlock", "nobody"]).exit_code == 2
    with open_store(str(store_path)) as store:
        assert authenticate(store, "amina", PASSWORD, ip=ATTACKER).user_name == "amina"
        entry = audit_entries(store, action="user.unlock")[0]
        assert (entry["user_name"], entry["target"]) == ("ops", "amina")


# ---- over HTTP ----------------------------------------------------------------------------------------------

@pytest.fixture
def app_db(store_path):
    with open_store(str(store_path)) as store:
        add_user(store, "root", PASSWORD, "admin")
        add_user(store, "amina", PASSWORD, "editor", ["NGA"])
    return str(store_path)


def _client(app, ip: str) -> TestClient:
    return TestClient(app, client=(ip, 40000), follow_redirects=False)


def _login(client: TestClient, user: str, password: str):
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    return client.post("/login", data={"user_name": user, "password": password, "csrf_token": csrf, "next": "/"})


def _page_csrf(client: TestClient) -> str:
    return re.search(r'"X-CSRF-Token": "([^"]+)"', client.get("/").text).group(1)


def test_login_page_answers_429_with_retry_after_and_the_owner_still_gets_in(app_db):
    app = create_app(app_db)
    with _client(app, ATTACKER) as attacker, _client(app, HOME) as owner:
        statuses = [_login(attacker, "amina", WRONG).status_code for _ in range(POLICY.free_failures)]
        assert statuses == [401] * POLICY.free_failures
        refused = _login(attacker, "amina", PASSWORD)
        assert refused.status_code == 429
        wait = int(refused.headers["Retry-After"])
        assert 0 < wait <= POLICY.base_delay.total_seconds()
        assert f"Try again in {wait} seconds" in refused.text
        assert "passage_session" not in refused.headers.get("set-cookie", "")
        signed_in = _login(owner, "amina", PASSWORD)
        assert signed_in.status_code == 303 and "passage_session=" in signed_in.headers["set-cookie"]
        assert owner.get("/api/v1/me").json()["user"] == "amina"


def test_rate_limited_errors_carry_retry_after_in_json_and_html(app_db):
    app = create_app(app_db)
    probe = APIRouter()

    @probe.get("/api/v1/probe-throttle")
    @probe.get("/probe-throttle")
    def throttled():
        raise AuthError("too many failed sign-ins; try again in 42 seconds", code="auth.rate_limited",
                        retry_after=42)

    app.include_router(probe)
    with _client(app, HOME) as c:
        api = c.get("/api/v1/probe-throttle")
        assert api.status_code == 429 and api.headers["Retry-After"] == "42"
        assert api.json()["error"]["code"] == "auth.rate_limited"
        page = c.get("/probe-throttle", headers={"Accept": "text/html"})
        assert page.status_code == 429 and page.headers["Retry-After"] == "42"
        assert page.headers["content-type"].startswith("text/html")


def test_admin_unlocks_from_the_users_page(app_db):
    app = create_app(app_db)
    with _client(app, ATTACKER) as attacker, _client(app, HOME) as admin, _client(app, HOME) as amina:
        for _ in range(POLICY.free_failures):
            _login(attacker, "amina", WRONG)
        assert _login(attacker, "amina", PASSWORD).status_code == 429
        assert _login(admin, "root", PASSWORD).status_code == 303
        page = admin.get("/admin/users").text
        row = re.search(r'<tr data-user="amina">.*?</tr>', page, re.DOTALL).group(0)
        assert f"<td>{POLICY.free_failures} <form" in row and "/admin/users/amina/unlock" in row
        assert "/admin/users/root/unlock" not in page  # nothing to lift for root
        # Only an admin, and only with the form's CSRF token.
        assert _login(amina, "amina", PASSWORD).status_code == 303
        assert amina.post("/admin/users/amina/unlock", data={"csrf_token": _page_csrf(amina)}).status_code == 403
        assert admin.post("/admin/users/amina/unlock", data={"csrf_token": "forged"}).status_code == 403
        assert _login(attacker, "amina", PASSWORD).status_code == 429
        done = admin.post("/admin/users/amina/unlock", data={"csrf_token": _page_csrf(admin)})
        assert done.status_code == 303 and done.headers["location"] == "/admin/users"
        assert "/admin/users/amina/unlock" not in admin.get("/admin/users").text
        assert _login(attacker, "amina", PASSWORD).status_code == 303
    with open_store(app_db) as store:
        entry = audit_entries(store, action="user.unlock")[0]
        assert (entry["user_name"], entry["target"]) == ("root", "amina")
        assert entry["detail"] == {"failures_cleared": POLICY.free_failures}
