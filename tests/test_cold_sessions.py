"""A session cookie's principal kept for a few seconds in the portal's process, as a token's is: reused without
asking the store, and forgotten at once on sign-out, disabling, a new password and a change of role or places
(in the library, and over HTTP while the portal runs)."""

from __future__ import annotations

import pytest

from passage import auth
from passage.auth import sessions

PASSWORD = "correct horse battery staple 9"


@pytest.fixture
def signed_in(store):
    sessions.forget_sessions()
    auth.add_user(store, "amina", PASSWORD, "editor", ["NGA"])
    auth.add_user(store, "boss", PASSWORD, "admin")
    token, csrf = auth.create_session(store, "amina")
    principal, kept_csrf = sessions.kept_session_principal(store, token)
    assert (principal.user_name, principal.role, principal.scopes, kept_csrf) == ("amina", "editor",
                                                                                   frozenset({"NGA"}), csrf)
    return store, token


def test_a_checked_session_is_kept_without_asking_the_store(signed_in):
    store, token = signed_in
    store.execute("DELETE FROM sessions")  # behind the library's back: only the store no longer knows it
    assert auth.session_principal(store, token) is None
    assert sessions.known_session_principal(store.url, token)[0].user_name == "amina"
    assert sessions.kept_session_principal(store, token)[0].user_name == "amina"
    assert sessions.known_session_principal(store.url + "-other", token) is None  # per store
    sessions.forget_sessions("amina")
    assert sessions.kept_session_principal(store, token) is None


def test_signing_out_forgets_the_session(signed_in):
    store, token = signed_in
    other, _ = auth.create_session(store, "amina")
    assert sessions.kept_session_principal(store, other) is not None
    auth.end_session(store, token)
    assert sessions.known_session_principal(store.url, token) is None
    assert sessions.kept_session_principal(store, token) is None
    assert sessions.known_session_principal(store.url, other) is not None  # the user's other session stays


def test_disabling_the_user_forgets_their_sessions(signed_in):
    store, token = signed_in
    auth.update_user(store, "amina", disabled=True)
    assert sessions.known_session_principal(store.url, token) is None
    assert sessions.kept_session_principal(store, token) is None


def test_a_new_password_forgets_their_sessions(signed_in):
    store, token = signed_in
    auth.set_password(store, "amina", PASSWORD + "!")
    assert sessions.kept_session_principal(store, token) is None


def test_a_new_role_or_places_is_seen_at_once(signed_in):
    store, token = signed_in
    auth.update_user(store, "amina", role="viewer", scopes=["SSD"])
    assert sessions.known_session_principal(store.url, token) is None
    principal, _ = sessions.kept_session_principal(store, token)
    assert (principal.role, principal.scopes) == ("viewer", frozenset({"SSD"}))


def test_a_session_lasts_no_longer_in_the_process_than_in_the_store(signed_in, monkeypatch):
    store, token = signed_in
    sessions.forget_sessions()
    monkeypatch.setattr(sessions, "PRINCIPAL_SECONDS", 0.0)
    assert sessions.kept_session_principal(store, token) is not None
    assert sessions.known_session_principal(store.url, token) is None  # kept for no time at all


# ---- over HTTP, while the portal runs -------------------------------------------------------------------------

def me(client) -> dict:
    r = client.get("/api/v1/me")
    assert r.status_code == 200, r.text
    return r.json()


def test_over_http_a_disabled_or_changed_user_is_seen_at_once(portal):
    from portal import csrf_of

    admin = portal.client("admin")
    headers = {"X-CSRF-Token": csrf_of(admin)}
    viewer = portal.client("viewer-ssd")
    assert me(viewer)["role"] == "viewer" and me(viewer)["role"] == "viewer"  # the second from the kept session
    r = admin.patch("/api/v1/admin/users/viewer-ssd", json={"role": "editor", "scopes": ["SSD"]}, headers=headers)
    assert r.status_code == 200, r.text
    assert me(viewer) == {"user": "viewer-ssd", "role": "editor", "scopes": ["SSD"]}
    r = admin.patch("/api/v1/admin/users/viewer-ssd", json={"disabled": True}, headers=headers)
    assert r.status_code == 200, r.text
    assert me(viewer)["role"] == "public"  # the session ended with the account, kept or not
    r = admin.patch("/api/v1/admin/users/viewer-ssd", json={"disabled": False, "role": "viewer"}, headers=headers)
    assert r.status_code == 200, r.text


def test_over_http_signing_out_ends_the_kept_session(portal):
    from portal import csrf_of

    client = portal.client("editor-nga")
    cookie = client.cookies.get("passage_session")
    assert me(client)["user"] == "editor-nga"
    r = client.post("/logout", data={"csrf_token": csrf_of(client)})
    assert r.status_code in (302, 303), r.text[:300]
    replay = portal.client()
    replay.cookies.set("passage_session", cookie)
    assert me(replay)["role"] == "public"
