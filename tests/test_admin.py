"""Administration over HTTP: every admin action through its page and its API route, against a running portal
over the seeded demo store. Admins may; editors and viewers are refused (403), the public is told to sign in
(401); a form or a cookie-signed API call without the CSRF token changes nothing; each change is audited with
the admin's name, as the CLI's are."""

from __future__ import annotations

import re

import httpx
import pytest

from portal import csrf_of, error_of

PASSWORD = "Admin-made-password-7"
READERS_REFUSED = ("editor-nga", "viewer-ssd")




class Session:
    """A signed-in browser-like client that knows its CSRF token."""

    def __init__(self, portal, user: str | None):
        self.client = portal.client(user)
        self.csrf = csrf_of(self.client) if user else ""

    def form(self, path: str, data: dict | None = None, *, csrf: bool = True) -> httpx.Response:
        return self.client.post(path, data={**(data or {}), **({"csrf_token": self.csrf} if csrf else {})})

    def api(self, method: str, path: str, body: dict | None = None, *, csrf: bool = True) -> httpx.Response:
        headers = {"X-CSRF-Token": self.csrf} if csrf else {}
        return self.client.request(method, path, json=body, headers=headers)


@pytest.fixture(scope="module")
def admin(portal) -> Session:
    return Session(portal, "admin")


@pytest.fixture(scope="module")
def readers(portal) -> dict[str | None, httpx.Client]:
    """Signed in once per module: the readers refused, and the public (None)."""
    return {name: portal.client(name) for name in (*READERS_REFUSED, None)}


@pytest.fixture(scope="module")
def bearer(portal, admin) -> httpx.Client:
    """The admin's API token, as scripts use it."""
    r = admin.api("POST", "/api/v1/admin/users/admin/tokens", {"name": "admin-script"})
    assert r.status_code == 201, r.text
    return httpx.Client(base_url=portal.url, timeout=60, headers={"Authorization": f"Bearer {r.json()['token']}"})


def latest(bearer: httpx.Client, action: str) -> dict:
    """The newest audit entry of an action."""
    entries = bearer.get("/api/v1/admin/audit", params={"action": action, "limit": 1}).json()["data"]
    assert entries, f"no {action} in the audit log"
    return entries[0]


def newest_audit_id(bearer: httpx.Client) -> int:
    return bearer.get("/api/v1/admin/audit", params={"limit": 1}).json()["data"][0]["audit_id"]


def user_of(bearer: httpx.Client, name: str) -> dict:
    r = bearer.get(f"/api/v1/admin/users/{name}")
    assert r.status_code == 200, r.text
    return r.json()


def signs_in(portal, user: str, password: str) -> int:
    c = httpx.Client(base_url=portal.url, timeout=60)
    csrf = c.get("/login").text.split('name="csrf_token" value="')[1].split('"')[0]
    return c.post("/login", data={"user_name": user, "password": password, "csrf_token": csrf, "next": "/"}).status_code


# ---- pages and reads -------------------------------------------------------------------------------------------

PAGES = ["/admin", "/admin/users", "/admin/users/editor-nga", "/admin/roles", "/admin/tokens", "/admin/releases",
         "/admin/visibility", "/admin/audit"]
API_READS = ["/api/v1/admin/users", "/api/v1/admin/users/editor-nga", "/api/v1/admin/roles",
             "/api/v1/admin/throttled", "/api/v1/admin/tokens", "/api/v1/admin/tokens/default-days",
             "/api/v1/admin/users/editor-nga/tokens", "/api/v1/admin/releases", "/api/v1/admin/datasets",
             "/api/v1/admin/audit"]


def test_the_admin_menu_leads_to_an_index_linking_every_admin_page(admin, portal):
    home = admin.client.get("/").text
    assert re.search(r'<nav aria-label="Main">.*<a href="/admin"[^>]*>Admin</a>', home, re.DOTALL)
    index = admin.client.get("/admin").text
    for path in PAGES[1:] + ["/admin/imports"]:
        if path != "/admin/users/editor-nga":
            assert f'href="{path}"' in index, path
    for reader in (None, *READERS_REFUSED):
        assert 'href="/admin"' not in portal.client(reader).get("/").text


@pytest.mark.parametrize("path", PAGES)
def test_admin_pages_answer_admins_only(admin, readers, path):
    assert admin.client.get(path).status_code == 200
    for reader in READERS_REFUSED:
        assert readers[reader].get(path).status_code == 403, reader
    assert readers[None].get(path).status_code == 401


@pytest.mark.parametrize("path", API_READS)
def test_admin_api_reads_answer_admins_only(admin, bearer, readers, path):
    assert bearer.get(path).status_code == 200
    assert admin.client.get(path).status_code == 200  # a session cookie reads without CSRF
    for reader in READERS_REFUSED:
        assert error_of(readers[reader].get(path), 403)["code"] == "forbidden"
    assert error_of(readers[None].get(path), 401)["code"] == "auth.required"


def test_the_api_routes_are_documented_under_the_admin_tag(portal):
    schema = httpx.get(f"{portal.url}/api/v1/openapi.json").json()
    admin_ops = {(m, p): op for p, item in schema["paths"].items() if p.startswith("/api/v1/admin")
                 for m, op in item.items()}
    assert len(admin_ops) >= 24
    assert all(op["tags"] == ["admin"] for op in admin_ops.values())
    assert all("403" in op["responses"] and "401" in op["responses"] for op in admin_ops.values())
    assert not any(p.startswith("/admin") for p in schema["paths"])  # pages stay out of the API's document
    for path in ("/api/v1/admin/users/{user_name}", "/api/v1/admin/releases/{release_id}",
                 "/api/v1/admin/datasets/{name}/countries/{iso3}/release"):
        assert path in schema["paths"], path


def test_imports_list_and_one_import_with_its_files(admin, bearer, portal):
    imports = bearer.get("/api/v1/admin/imports").json()["data"]
    assert imports, "the demo imported files"
    first = imports[-1]
    one = bearer.get(f"/api/v1/admin/imports/{first['import_id']}").json()
    assert one["import_id"] == first["import_id"] and one["status"] == first["status"]
    assert [f["name"] for f in one["file_list"]] and all(len(f["sha256"]) == 64 for f in one["file_list"])
    assert one["file_list"][0]["name"] in first["files"]
    page = admin.client.get(f"/admin/imports/{first['import_id']}").text
    assert one["file_list"][0]["sha256"] in page and f'data-status="{first["status"]}"' in page
    assert f'href="/admin/imports/{first["import_id"]}"' in admin.client.get("/admin/imports").text
    assert error_of(bearer.get("/api/v1/admin/imports/999999"), 404)["code"] == "not_found"
    # The public is told to sign in; a viewer reads no import log; an editor reads only the imports of theirs.
    assert error_of(portal.client().get(f"/api/v1/admin/imports/{first['import_id']}"), 401)
    assert error_of(portal.client("viewer-ssd").get("/api/v1/admin/imports"), 403)["code"] == "forbidden"
    editor = portal.client("editor-nga").get("/api/v1/admin/imports").json()["data"]
    assert len(editor) < len(imports)
    hidden = next(i for i in imports if i["import_id"] not in {e["import_id"] for e in editor})
    assert error_of(portal.client("editor-nga").get(f"/api/v1/admin/imports/{hidden['import_id']}"), 404)


# ---- changes: refused to everyone but admins, never without CSRF ---------------------------------------------

# (method, path, body) of every change, page forms as "FORM"; bodies valid, so only the caller is refused.
CHANGES = [
    ("FORM", "/admin/users", {"user_name": "refused-one", "password": PASSWORD, "role": "viewer", "scopes": "SSD"}),
    ("FORM", "/admin/users/editor-tcd", {"role": "viewer", "scopes": "TCD"}),
    ("FORM", "/admin/users/editor-tcd/disable", {}),
    ("FORM", "/admin/users/editor-tcd/enable", {}),
    ("FORM", "/admin/users/editor-tcd/password", {"password": PASSWORD}),
    ("FORM", "/admin/users/editor-tcd/unlock", {}),
    ("FORM", "/admin/users/editor-tcd/tokens", {"name": "refused", "days": "5"}),
    ("FORM", "/admin/tokens/default-days", {"days": "30"}),
    ("FORM", "/admin/releases", {"dataset": "dtm_idps", "country": "SSD"}),
    ("FORM", "/admin/datasets/dtm_idps/visibility", {"visibility": "restricted"}),
    ("FORM", "/admin/datasets/dtm_idps/countries/SSD/publish", {}),
    ("FORM", "/admin/datasets/dtm_idps/countries/SSD/unpublish", {}),
    ("POST", "/api/v1/admin/users", {"user_name": "refused-two", "password": PASSWORD, "role": "viewer",
                                     "scopes": ["SSD"]}),
    ("PATCH", "/api/v1/admin/users/editor-tcd", {"disabled": True}),
    ("PUT", "/api/v1/admin/users/editor-tcd/password", {"password": PASSWORD}),
    ("POST", "/api/v1/admin/users/editor-tcd/unlock", None),
    ("PUT", "/api/v1/admin/tokens/default-days", {"days": 30}),
    ("POST", "/api/v1/admin/releases", {"dataset": "dtm_idps", "country": "SSD"}),
    ("PUT", "/api/v1/admin/datasets/dtm_idps/visibility", {"visibility": "restricted"}),
    ("PUT", "/api/v1/admin/datasets/dtm_idps/countries/SSD/release", None),
    ("DELETE", "/api/v1/admin/datasets/dtm_idps/countries/SSD/release", None),
]


def _send(session: Session, method: str, path: str, body, *, csrf: bool = True) -> httpx.Response:
    return session.form(path, body, csrf=csrf) if method == "FORM" else session.api(method, path, body, csrf=csrf)


def test_every_change_is_refused_to_readers_and_without_csrf(portal, admin, bearer):
    ssd_release = bearer.get("/api/v1/admin/releases", params={"dataset": "dtm_idps"}).json()["data"]
    ssd_release = next(r["release_id"] for r in ssd_release if r["country_code"] == "SSD")
    tcd_token = bearer.get("/api/v1/admin/tokens", params={"user": "editor-tcd"}).json()["data"]
    changes = CHANGES + [("FORM", f"/admin/releases/{ssd_release}/withdraw", {}),
                         ("DELETE", f"/api/v1/admin/releases/{ssd_release}", None)]
    if tcd_token:
        changes += [("DELETE", f"/api/v1/admin/users/editor-tcd/tokens/{tcd_token[0]['token_id']}", None)]
    before = newest_audit_id(bearer)
    readers = {name: Session(portal, name) for name in READERS_REFUSED}
    public = Session(portal, None)
    for method, path, body in changes:
        for name, reader in readers.items():
            r = _send(reader, method, path, body)
            assert r.status_code == 403, (name, method, path, r.text[:300])
        assert _send(public, method, path, body).status_code == 401, (method, path)
        missing = _send(admin, method, path, body, csrf=False)
        assert missing.status_code == 403, (method, path, missing.text[:300])
        if method != "FORM":
            assert error_of(missing, 403)["code"] == "csrf"
    # Nothing changed, and nothing but the sign-ins above was recorded.
    since = [e["action"] for e in bearer.get("/api/v1/admin/audit", params={"limit": 100}).json()["data"]
             if e["audit_id"] > before]
    assert since and all(a.startswith("auth.sign_in") for a in since), since
    assert user_of(bearer, "editor-tcd")["role"] == "editor" and not user_of(bearer, "editor-tcd")["disabled"]
    assert signs_in(portal, "editor-tcd", portal.password("editor-tcd")) == 303


# ---- each change, by page and by API, audited -------------------------------------------------------------------

def test_users_added_changed_disabled_and_enabled(portal, admin, bearer):
    r = admin.form("/admin/users", {"user_name": "kofi", "password": PASSWORD, "role": "viewer", "scopes": "SSD",
                                    "display_name": "Kofi A.", "email": "kofi@example.org"})
    assert r.status_code == 303
    assert user_of(bearer, "kofi")["scopes"] == ["SSD"] and user_of(bearer, "kofi")["email"] == "kofi@example.org"
    assert latest(bearer, "user.add")["user_name"] == "admin" and latest(bearer, "user.add")["target"] == "kofi"
    r = bearer.post("/api/v1/admin/users", json={"user_name": "lina", "password": PASSWORD, "role": "editor",
                                                 "scopes": ["tcd"]})
    assert r.status_code == 201 and r.json()["scopes"] == ["TCD"] and r.json()["role"] == "editor"
    assert latest(bearer, "user.add")["target"] == "lina"
    assert error_of(bearer.post("/api/v1/admin/users", json={"user_name": "lina", "password": PASSWORD,
                                                             "role": "viewer", "scopes": ["SSD"]}), 400)["code"] \
        == "auth.user_exists"
    assert error_of(bearer.post("/api/v1/admin/users", json={"user_name": "mo", "password": PASSWORD,
                                                             "role": "viewer", "scopes": ["ZZZ9"]}), 404)

    # Role and scopes: the page replaces them; the API changes what it names.
    assert admin.form("/admin/users/kofi", {"role": "editor", "scopes": "NGA, SSD",
                                            "display_name": "Kofi Asante"}).status_code == 303
    kofi = user_of(bearer, "kofi")
    assert (kofi["role"], kofi["scopes"], kofi["display_name"]) == ("editor", ["NGA", "SSD"], "Kofi Asante")
    detail = latest(bearer, "user.update")["detail"]
    assert detail["role"] == {"from": "viewer", "to": "editor"} and detail["scopes"]["to"] == ["NGA", "SSD"]
    r = bearer.patch("/api/v1/admin/users/kofi", json={"scopes": ["NG008"]})
    assert r.status_code == 200 and r.json()["scopes"] == ["NG008"] and r.json()["role"] == "editor"
    assert error_of(bearer.patch("/api/v1/admin/users/kofi", json={"role": "chief"}), 400)["code"] == "auth.bad_role"

    # Disable and enable through the page, then through the API.
    assert signs_in(portal, "kofi", PASSWORD) == 303
    assert admin.form("/admin/users/kofi/disable").status_code == 303
    assert user_of(bearer, "kofi")["disabled"] and signs_in(portal, "kofi", PASSWORD) == 401
    assert latest(bearer, "user.update")["detail"]["disabled"] == {"from": False, "to": True}
    assert 'id="user-disabled"' in admin.client.get("/admin/users/kofi").text
    assert admin.form("/admin/users/kofi/enable").status_code == 303
    assert signs_in(portal, "kofi", PASSWORD) == 303
    assert bearer.patch("/api/v1/admin/users/kofi", json={"disabled": True}).json()["disabled"] is True
    assert signs_in(portal, "kofi", PASSWORD) == 401
    assert bearer.patch("/api/v1/admin/users/kofi", json={"disabled": False}).json()["disabled"] is False
    assert latest(bearer, "user.update")["user_name"] == "admin"
    # The last enabled admin stays one.
    assert error_of(bearer.patch("/api/v1/admin/users/admin", json={"disabled": True}), 400)["code"] == \
        "auth.last_admin"


def test_passwords_reset_and_sign_in_throttles_lifted(portal, admin, bearer):
    bearer.post("/api/v1/admin/users", json={"user_name": "nadia", "password": PASSWORD, "role": "viewer",
                                             "scopes": ["SSD"]})
    new = "Another-good-password-3"
    assert admin.form("/admin/users/nadia/password", {"password": new}).status_code == 303
    assert signs_in(portal, "nadia", PASSWORD) == 401 and signs_in(portal, "nadia", new) == 303
    entry = latest(bearer, "user.password")
    assert (entry["user_name"], entry["target"]) == ("admin", "nadia") and new not in str(entry)
    assert bearer.put("/api/v1/admin/users/nadia/password", json={"password": PASSWORD}).status_code == 204
    assert signs_in(portal, "nadia", new) == 401 and signs_in(portal, "nadia", PASSWORD) == 303
    assert error_of(bearer.put("/api/v1/admin/users/nadia/password", json={"password": "short"}), 400)

    # Failed sign-ins counted against nadia: listed, then lifted through the page and through the API.
    for _ in range(3):
        signs_in(portal, "nadia", "wrong-password-0")
    throttled = {t["user_name"]: t for t in bearer.get("/api/v1/admin/throttled").json()["data"]}
    assert throttled["nadia"]["failures"] >= 3 and user_of(bearer, "nadia")["failed_sign_ins"] >= 3
    r = admin.form("/admin/users/nadia/unlock", {"next": "user"})
    assert r.status_code == 303 and r.headers["location"] == "/admin/users/nadia?done=unlocked"
    assert user_of(bearer, "nadia")["failed_sign_ins"] == 0
    assert latest(bearer, "user.unlock")["detail"]["failures_cleared"] >= 3
    signs_in(portal, "nadia", "wrong-password-0")
    r = bearer.post("/api/v1/admin/users/nadia/unlock")
    assert r.status_code == 200 and r.json()["failures_cleared"] == 1
    assert "nadia" not in {t["user_name"] for t in bearer.get("/api/v1/admin/throttled").json()["data"]}


def test_an_admin_lists_and_revokes_anyones_tokens(portal, admin, bearer):
    # editor-nga makes a token of their own, as on their account page.
    editor = Session(portal, "editor-nga")
    made = editor.client.post("/api/v1/tokens", data={"name": "field-laptop"}, headers={"X-CSRF-Token": editor.csrf})
    secret, token_id = made.json()["token"], made.json()["token_id"]
    theirs = httpx.Client(base_url=portal.url, timeout=60, headers={"Authorization": f"Bearer {secret}"})
    assert theirs.get("/api/v1/me").json()["user"] == "editor-nga"

    listed = bearer.get("/api/v1/admin/tokens", params={"status": "active"}).json()["data"]
    assert {"token_id": token_id, "user_name": "editor-nga", "name": "field-laptop"}.items() <= \
        next(t for t in listed if t["token_id"] == token_id).items()
    assert all("hash" not in k for t in listed for k in t) and secret not in str(listed)
    page = admin.client.get("/admin/tokens", params={"user": "editor-nga"}).text
    assert f'data-token="{token_id}" data-status="active"' in page

    r = admin.form(f"/admin/users/editor-nga/tokens/{token_id}/revoke", {"next": "tokens"})
    assert r.status_code == 303 and r.headers["location"] == "/admin/tokens?done=revoked"
    assert error_of(theirs.get("/api/v1/me"), 401)["code"] == "auth.bad_token"
    entry = latest(bearer, "token.revoke")
    assert (entry["user_name"], entry["target"], entry["detail"]["token_id"]) == ("admin", "editor-nga", token_id)

    # The admin makes one for a user (shown once), and revokes it through the API.
    page = admin.form("/admin/users/editor-nga/tokens", {"name": "sync", "days": "7"})
    assert page.status_code == 200
    secret = re.search(r'<code id="new-token">([^<]+)</code>', page.text).group(1)
    synced = httpx.Client(base_url=portal.url, timeout=60, headers={"Authorization": f"Bearer {secret}"})
    assert synced.get("/api/v1/me").json()["user"] == "editor-nga"
    made = next(t for t in bearer.get("/api/v1/admin/users/editor-nga/tokens").json()["data"] if t["name"] == "sync")
    assert bearer.delete(f"/api/v1/admin/users/editor-nga/tokens/{made['token_id']}").status_code == 204
    assert error_of(synced.get("/api/v1/me"), 401)["code"] == "auth.bad_token"
    assert error_of(bearer.delete("/api/v1/admin/users/editor-nga/tokens/nosuchtoken"), 404)
    # A token cannot mint tokens, even an admin's.
    assert error_of(bearer.post("/api/v1/admin/users/editor-nga/tokens", json={"name": "x"}), 403)["code"] == \
        "auth.session_required"

    # The default lifetime, by page and by API.
    assert admin.form("/admin/tokens/default-days", {"days": "45"}).status_code == 303
    assert bearer.get("/api/v1/admin/tokens/default-days").json()["days"] == 45
    assert latest(bearer, "settings.token_days")["detail"]["to"] == 45
    assert bearer.put("/api/v1/admin/tokens/default-days", json={"days": 90}).json()["days"] == 90


def _public_countries(portal) -> set[str]:
    rows = portal.client().get("/api/v1/countries").json()["data"]
    return {r.get("code") or r.get("iso3") or r.get("country_code") for r in rows}


def _public_records(portal, iso3: str) -> int:
    r = portal.client().get("/api/v1/datasets/dtm_idps/records", params={"country": iso3, "limit": 1})
    return len(r.json()["data"])


def test_releases_and_visibility_per_country(portal, admin, bearer):
    assert _public_records(portal, "TCD") == 1 and _public_records(portal, "AFG") == 0
    status = {d["name"]: d for d in bearer.get("/api/v1/admin/datasets").json()["data"]}["dtm_idps"]
    countries = {c["country_code"]: c for c in status["countries"]}
    assert countries["AFG"]["releases"] == 0 and countries["AFG"]["records"] > 0 and countries["TCD"]["releases"] > 0
    page = admin.client.get("/admin/visibility").text
    assert re.search(r'data-dataset="dtm_idps".*?data-country="AFG" data-published="no"', page, re.DOTALL)

    # Unpublish Chad through the page: the public no longer reads it; publish it again through the API.
    assert admin.form("/admin/datasets/dtm_idps/countries/TCD/unpublish").status_code == 303
    assert _public_records(portal, "TCD") == 0
    entry = latest(bearer, "release.withdraw")
    assert (entry["user_name"], entry["target"]) == ("admin", "dtm_idps/TCD")
    assert error_of(bearer.delete("/api/v1/admin/datasets/dtm_idps/countries/TCD/release"), 404)["code"] == \
        "release.none"
    r = bearer.put("/api/v1/admin/datasets/dtm_idps/countries/TCD/release", json={"note": "back"})
    assert r.status_code == 201 and _public_records(portal, "TCD") == 1
    assert latest(bearer, "release.publish")["target"] == "dtm_idps/TCD"

    # Afghanistan published through the releases page, then withdrawn there.
    assert admin.form("/admin/releases", {"dataset": "dtm_idps", "country": "afg", "note": "test"}).status_code == 303
    assert _public_records(portal, "AFG") == 1
    afg = next(r for r in bearer.get("/api/v1/admin/releases").json()["data"] if r["country_code"] == "AFG")
    assert f'data-release="{afg["release_id"]}"' in admin.client.get("/admin/releases").text
    assert admin.form(f"/admin/releases/{afg['release_id']}/withdraw").status_code == 303
    assert _public_records(portal, "AFG") == 0
    assert latest(bearer, "release.withdraw")["detail"]["release_id"] == afg["release_id"]
    # ... and through the API.
    r = bearer.post("/api/v1/admin/releases", json={"dataset": "dtm_idps", "country": "AFG"})
    assert r.status_code == 201 and _public_records(portal, "AFG") == 1
    gone = bearer.delete(f"/api/v1/admin/releases/{r.json()['release_id']}")
    assert gone.status_code == 200 and gone.json()["country_code"] == "AFG" and _public_records(portal, "AFG") == 0
    assert error_of(bearer.delete(f"/api/v1/admin/releases/{r.json()['release_id']}"), 404)

    # Visibility: restricted hides the dataset from the public, by page and by API.
    assert admin.form("/admin/datasets/dtm_idps/visibility", {"visibility": "restricted"}).status_code == 303
    assert portal.client().get("/api/v1/datasets/dtm_idps").status_code == 404
    assert latest(bearer, "dataset.visibility")["detail"] == {"visibility": "restricted"}
    assert bearer.put("/api/v1/admin/datasets/dtm_idps/visibility", json={"visibility": "public"}).status_code == 200
    assert portal.client().get("/api/v1/datasets/dtm_idps").status_code == 200
    assert error_of(bearer.put("/api/v1/admin/datasets/dtm_idps/visibility", json={"visibility": "secret"}),
                    400)["code"] == "dataset.visibility"


def test_the_audit_page_filters_and_the_roles_page_names_the_rules(admin, bearer):
    page = admin.client.get("/admin/audit", params={"action": "user."}).text
    actions = set(re.findall(r'<tr data-action="([^"]+)"', page))
    assert actions and all(a.startswith("user.") for a in actions)
    roles = bearer.get("/api/v1/admin/roles").json()
    assert [r["role"] for r in roles["data"]] == ["admin", "editor", "viewer"]
    assert "editor-nga" in next(r for r in roles["data"] if r["role"] == "editor")["users"]
    assert {"administer", "publish", "manage-tokens"} <= {r["action"] for r in roles["rules"]}
    assert 'data-role="viewer"' in admin.client.get("/admin/roles").text


# ---- the library verbs under the routes, on both backends --------------------------------------------------------

@pytest.fixture
def loaded(any_store, tmp_path):
    from dtm_rows import NGA, TCD, api_rows, write_csv, write_json
    from passage.ingest import import_files

    files = [write_csv(tmp_path / "nga.csv", api_rows("NGA", NGA)), write_json(tmp_path / "tcd.json", api_rows("TCD", TCD))]
    result = import_files(any_store, "dtm", files, user="test")
    assert result.status == "committed", result.report.findings
    return any_store, result.import_id


def test_withdrawing_releases_and_unpublishing_a_country(loaded):
    from passage.access import readable
    from passage.auth import PUBLIC, Principal, audit_entries
    from passage.errors import Forbidden, NotFound
    from passage.releases import dataset_countries, get_dataset, publish, unpublish, withdraw

    store, _ = loaded
    ds = get_dataset(store, "dtm_idps")

    def public_countries() -> set[str]:
        return set(readable(store, PUBLIC, ds).admin0_pcode.to_pyarrow().to_pylist())

    assert public_countries() == set()
    first, second = publish(store, "dtm_idps", "NGA"), publish(store, "dtm_idps", "NGA")
    publish(store, "dtm_idps", "TCD")
    assert public_countries() == {"NGA", "TCD"}
    assert withdraw(store, second)["release_id"] == second
    assert public_countries() == {"NGA", "TCD"}  # the first release still shows Nigeria
    countries = {c["country_code"]: c for c in dataset_countries(store, "dtm_idps")}
    assert countries["NGA"]["releases"] == 1 and countries["NGA"]["records"] > 0 and countries["TCD"]["releases"] == 1
    with pytest.raises(NotFound):
        withdraw(store, second)

    assert unpublish(store, "dtm_idps", "NGA") == 1
    assert public_countries() == {"TCD"}
    with pytest.raises(NotFound) as none:
        unpublish(store, "dtm_idps", "NGA")
    assert none.value.code == "release.none"
    # Editors of the whole country unpublish it; no one else but admins.
    with pytest.raises(Forbidden):
        unpublish(store, "dtm_idps", "TCD", principal=Principal("ed-nga", "editor", {"NGA"}))
    assert unpublish(store, "dtm_idps", "TCD", principal=Principal("ed-tcd", "editor", {"TCD"})) == 1
    assert public_countries() == set()
    withdrawn = audit_entries(store, action="release.withdraw")
    assert [(e["user_name"], e["target"]) for e in withdrawn] == [
        ("ed-tcd", "dtm_idps/TCD"), ("operator", "dtm_idps/NGA"), ("operator", "dtm_idps/NGA")]
    assert {e["detail"]["release_id"] for e in withdrawn[1:]} == {first, second}


def test_one_import_as_its_readers_may_see_it(loaded):
    from passage.access import read_import
    from passage.auth import OPERATOR, Principal
    from passage.errors import Forbidden, NotFound

    store, import_id = loaded
    item = read_import(store, OPERATOR, import_id)
    assert (item["status"], item["user_name"]) == ("committed", "test")
    assert [f["name"] for f in item["file_list"]] == ["nga.csv", "tcd.json"] and item["held"] == []
    # Its records lie in Nigeria and Chad: an editor of both reads it, an editor of one does not.
    assert read_import(store, Principal("both", "editor", {"NGA", "TCD"}), import_id)["import_id"] == import_id
    with pytest.raises(NotFound):
        read_import(store, Principal("ed-nga", "editor", {"NGA"}), import_id)
    with pytest.raises(Forbidden):
        read_import(store, Principal("view", "viewer", {"NGA"}), import_id)
    with pytest.raises(NotFound):
        read_import(store, OPERATOR, import_id + 1000)


def test_every_token_listed_for_admins_only(store):
    from passage.auth import Principal, add_user, all_tokens, create_token, revoke_token
    from passage.errors import Forbidden, UsageError

    add_user(store, "amina", PASSWORD, "viewer", ["NGA"])
    add_user(store, "bola", PASSWORD, "editor", ["TCD"])
    a, _ = create_token(store, "amina", "laptop")
    b, _ = create_token(store, "bola", "sync")
    revoke_token(store, "bola", b)
    assert {(t["user_name"], t["token_id"], t["status"]) for t in all_tokens(store)} == {
        ("amina", a, "active"), ("bola", b, "revoked")}
    assert [t["token_id"] for t in all_tokens(store, status="active")] == [a]
    assert [t["token_id"] for t in all_tokens(store, user_name="bola")] == [b]
    assert not any("hash" in k for t in all_tokens(store) for k in t)
    with pytest.raises(Forbidden):
        all_tokens(store, principal=Principal("bola", "editor", {"TCD"}))
    with pytest.raises(UsageError):
        all_tokens(store, status="lost")


def test_the_cli_unpublishes_and_withdraws_with_the_same_verbs(store_path, tmp_path):
    from cli_run import passage_cli
    from dtm_rows import NGA, TCD, api_rows, write_csv, write_json
    from passage.ingest import import_files
    from passage.releases import publish, releases
    from passage.store import open_store

    with open_store(str(store_path)) as store:
        files = [write_csv(tmp_path / "nga.csv", api_rows("NGA", NGA)),
                 write_json(tmp_path / "tcd.json", api_rows("TCD", TCD))]
        assert import_files(store, "dtm", files, user="test").status == "committed"
        publish(store, "dtm_idps", "NGA")
        tcd = publish(store, "dtm_idps", "TCD")
    r = passage_cli("--db", store_path, "datasets", "withdraw", tcd)
    assert r.returncode == 0 and r.stdout.strip() == f"release {tcd} withdrawn: dtm_idps for TCD"
    r = passage_cli("--db", store_path, "datasets", "unpublish", "dtm_idps", "--country", "tcd")
    assert r.returncode != 0 and "has no release for 'TCD'" in r.stderr
    r = passage_cli("--db", store_path, "datasets", "unpublish", "dtm_idps", "--country", "nga")
    assert r.returncode == 0 and "(1 release withdrawn)" in r.stdout
    with open_store(str(store_path)) as store:
        assert releases(store) == []


def test_rolling_an_import_back_from_the_page_and_the_api(admin, bearer, portal, tmp_path):
    """An import made through the API is rolled back from its page (CSRF, then the form goes away) and refused
    again through the API (409); an editor may not roll back."""
    from dtm_rows import api_rows, write_csv

    rows = [{**r, "roundNumber": 99, "reportingDate": "2023-12-31T00:00:00"} for r in api_rows("NGA", [
        (1, "NG008", "Borno", "", "", 99, "2023-12-31", "Conflict", 123, None, None)])]
    path = write_csv(tmp_path / "round-99.csv", rows)
    with path.open("rb") as fh:
        r = bearer.post("/api/v1/imports", data={"kind": "dtm"}, files={"file": (path.name, fh, "text/csv")})
    assert r.status_code == 200 and r.json()["status"] == "committed", r.text
    import_id = r.json()["import_id"]
    page = admin.client.get(f"/admin/imports/{import_id}").text
    assert f'action="/admin/imports/{import_id}/rollback"' in page
    assert error_of(portal.client("editor-nga").post(f"/api/v1/admin/imports/{import_id}/rollback"), 403)
    assert admin.form(f"/admin/imports/{import_id}/rollback", csrf=False).status_code == 403  # no CSRF token
    done = admin.form(f"/admin/imports/{import_id}/rollback")
    assert done.status_code == 303 and done.headers["location"] == f"/admin/imports/{import_id}"
    page = admin.client.get(f"/admin/imports/{import_id}").text
    assert 'data-status="rolled-back"' in page and "/rollback" not in page
    assert latest(bearer, "import.rollback")["import_id"] == import_id
    again = bearer.post(f"/api/v1/admin/imports/{import_id}/rollback")
    assert error_of(again, 409)["code"] == "import.not_committed"
