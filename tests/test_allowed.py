"""One rule table for who may do what: every action for every kind of actor, and the same answer through the
library, the CLI, the API and the pages.

`passage.access.RULES` is walked action by action against five actors (an admin, an editor inside the
resource's places, an editor outside them, a viewer inside them, the public). Then a few representative actions
are tried by the demo's users through each channel, on copies of one seeded store.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from passage.access import ACTIONS, STORE, Account, HeldRow, Place, Places, allowed, require
from passage.auth import PUBLIC, Principal
from passage.errors import Forbidden
from passage.releases import Dataset

ADMIN = Principal("root", "admin")
EDITOR_IN = Principal("amina", "editor", frozenset({"NGA"}))
EDITOR_OUT = Principal("idriss", "editor", frozenset({"TCD"}))
VIEWER = Principal("musa", "viewer", frozenset({"NGA"}))
ACTORS = (ADMIN, EDITOR_IN, EDITOR_OUT, VIEWER, PUBLIC)


def _dataset(visibility: str) -> Dataset:
    return Dataset(name="site_visits", title="Site visits", form="site_visit", pack="example", visibility=visibility,
                   metadata={})


NIGERIA_DOC = (Place("NGA", "NG002"),)

# (action, resource, what it is) -> the answer for            admin  ed-in  ed-out viewer public
RULE_TABLE = [
    ("read-dataset", _dataset("public"), "a public dataset",       (True, True, True, True, True)),
    ("read-dataset", _dataset("restricted"), "a restricted one",   (True, True, True, True, False)),
    ("edit-records", Place("NGA", "NG002001"), "a Nigerian place", (True, True, False, False, False)),
    ("edit-records", Place("NGA"), "Nigeria as a whole",           (True, True, False, False, False)),
    ("publish", Place("NGA"), "Nigeria",                           (True, True, False, False, False)),
    ("import", STORE, "the store",                                 (True, True, True, False, False)),
    ("read-import-log", STORE, "the store",                        (True, True, True, False, False)),
    ("read-document", Places(NIGERIA_DOC, "restricted"), "restricted, about Borno",
     (True, True, False, True, False)),
    ("read-document", Places(NIGERIA_DOC, "public"), "public, about Borno", (True, True, True, True, True)),
    ("add-document", Places(NIGERIA_DOC), "about Borno",           (True, True, False, False, False)),
    ("add-document", Places(()), "about no place",                 (True, False, False, False, False)),
    ("manage-tokens", Account("amina"), "amina's tokens",          (True, True, False, False, False)),
    ("administer", STORE, "the store",                             (True, False, False, False, False)),
    ("review-quarantine", HeldRow("NGA", "NG002"), "a held Nigerian row", (True, True, False, False, False)),
    ("review-quarantine", HeldRow("", None, "idriss"), "a held row of no place idriss imported",
     (True, False, True, False, False)),
]


def test_the_table_names_every_action():
    assert {action for action, *_ in RULE_TABLE} == set(ACTIONS)


@pytest.mark.parametrize("action, resource, what, expected", RULE_TABLE,
                         ids=[f"{a}-{w}" for a, _, w, _ in RULE_TABLE])
def test_each_actor_gets_the_tables_answer(action, resource, what, expected):
    got = tuple(allowed(actor, action, resource) for actor in ACTORS)
    assert got == expected, f"{action} on {what}"
    for actor, ok in zip(ACTORS, expected):
        if ok:
            require(actor, action, resource)
            continue
        with pytest.raises(Forbidden) as refused:
            require(actor, action, resource)
        assert (refused.value.code, refused.value.http_status) == (
            ("auth.required", 401) if actor.is_public else ("forbidden", 403))
        assert "is not allowed to" in str(refused.value)


def test_a_place_editor_answers_for_their_places_not_their_country():
    borno = Principal("aisha", "editor", frozenset({"NG008"}))
    assert allowed(borno, "edit-records", Place("NGA", "NG008001"))
    assert not allowed(borno, "edit-records", Place("NGA", "NG002001"))
    assert not allowed(borno, "publish", Place("NGA"))  # a release is for a whole country
    with pytest.raises(Forbidden, match="aisha \\(editor\\) is not allowed to publish data of NGA"):
        require(borno, "publish", Place("NGA"))


def test_unknown_actions_and_wrong_resources_are_errors_not_denials():
    with pytest.raises(ValueError, match="unknown action 'delete-everything'"):
        allowed(ADMIN, "delete-everything", STORE)
    with pytest.raises(TypeError, match="'publish' is about a Place"):
        allowed(ADMIN, "publish", STORE)


# ---- the same answers through the CLI, the API and the pages ------------------------------------------------

@pytest.fixture(scope="module")
def cli_db(seeded_portal_store, tmp_path_factory):
    """A copy of the seeded store for the CLI (the portal holds its own copy open)."""
    from portal import copy_store

    return str(copy_store(seeded_portal_store[0], tmp_path_factory.mktemp("cli")))


def _cli(db: str, *args: str, user: str | None = None, input: str | None = None):
    from passage.cli import main

    acting = ["--user", user] if user else []
    return CliRunner().invoke(main, ["--db", db, *acting, *args], input=input)


def _csrf(client) -> str:
    return client.get("/login").text.split('name="csrf_token" value="')[1].split('"')[0]


def test_an_unknown_user_is_a_usage_error_not_an_admin(cli_db):
    out = _cli(cli_db, "datasets", "visibility", "dtm_idps", "restricted", user="nobody")
    assert out.exit_code == 2
    assert "no user 'nobody' in this store: see `passage users list`" in out.stderr
    listed = _cli(cli_db, "datasets", "list")
    assert listed.exit_code == 0 and "restricted" not in listed.stdout


def test_a_non_admin_user_is_held_to_their_rights_on_the_command_line(cli_db):
    from passage.store import open_store

    with open_store(cli_db) as store:
        nga = store.scalar("SELECT _record_id FROM rec_dtm_idps WHERE _current AND NOT _deleted "
                           "AND admin0_pcode = 'NGA' ORDER BY _record_id LIMIT 1")
    assert _cli(cli_db, "records", "history", "dtm_idps", nga, user="editor-nga").exit_code == 0
    refused = {
        "read a record's history as a viewer": _cli(cli_db, "records", "history", "dtm_idps", nga,
                                                    user="viewer-ssd"),
        "publish outside their places": _cli(cli_db, "publish", "dtm_idps", "--country", "NGA", user="editor-tcd"),
        "set visibility": _cli(cli_db, "datasets", "visibility", "dtm_idps", "restricted", user="editor-nga"),
        "add a user": _cli(cli_db, "users", "add", "eve", "--role", "admin", "--password-stdin",
                           user="editor-nga", input="correct horse battery\n"),
        "delete a record outside their places": _cli(cli_db, "records", "delete", "dtm_idps", nga,
                                                     user="editor-tcd"),
        "delete a record as a viewer": _cli(cli_db, "records", "delete", "dtm_idps", nga, user="viewer-ssd"),
    }
    for what, out in refused.items():
        assert out.exit_code == 1 and "is not allowed to" in out.stderr, (what, out.output)
    with open_store(cli_db) as store:
        assert store.scalar("SELECT count(*) FROM users WHERE user_name = 'eve'") == 0
        assert store.scalar("SELECT count(*) FROM rec_dtm_idps WHERE _record_id = ? AND _deleted", [nga]) == 0
        assert store.scalar("SELECT visibility FROM datasets WHERE name = 'dtm_idps'") in (None, "public")
    mine = _cli(cli_db, "records", "delete", "dtm_idps", nga, user="editor-nga")
    assert mine.exit_code == 0 and "(deleted)" in mine.stdout
    with open_store(cli_db) as store:
        entry = store.query("SELECT user_name, action FROM audit_log ORDER BY audit_id DESC LIMIT 1")[0]
    assert entry == ("editor-nga", "record.delete")


CHANNEL_CASES = [
    # user, action, resource, CLI arguments, API request, page request
    ("editor-tcd", "publish", Place("NGA"), ["publish", "dtm_idps", "--country", "NGA"],
     ("post", "/api/v1/datasets/dtm_idps/releases", {"country": "NGA"}),
     ("post", "/datasets/dtm_idps/publish", {"country": "NGA"})),
    ("viewer-ssd", "read-import-log", STORE, ["log"], ("get", "/api/v1/imports", None), ("get", "/import", None)),
    ("editor-nga", "read-import-log", STORE, ["log"], ("get", "/api/v1/imports", None), ("get", "/import", None)),
    ("editor-nga", "administer", STORE, ["audit"], None, ("get", "/admin/audit", None)),
    ("admin", "administer", STORE, ["audit"], None, ("get", "/admin/users", None)),
]


@pytest.mark.parametrize("user, action, resource, cli_args, api, page", CHANNEL_CASES,
                         ids=[f"{c[0]}-{c[1]}" for c in CHANNEL_CASES])
def test_the_cli_the_api_and_the_pages_give_the_same_answer(portal, cli_db, user, action, resource, cli_args, api,
                                                            page):
    from passage.auth import get_principal
    from passage.store import open_store

    with open_store(cli_db) as store:
        expected = allowed(get_principal(store, user), action, resource)
    out = _cli(cli_db, *cli_args, user=user)
    assert out.exit_code == (0 if expected else 1), out.output
    client = portal.client(user)
    csrf = _csrf(client)
    for request in (api, page):
        if request is None:
            continue
        method, path, data = request
        if method == "post":
            r = client.post(path, data={**data, "csrf_token": csrf}, headers={"X-CSRF-Token": csrf})
        else:
            r = client.get(path)
        assert (r.status_code < 400) is expected, (path, r.status_code, r.text[:300])
        if not expected:
            assert r.status_code == 403
