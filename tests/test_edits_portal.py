"""Record edits over HTTP: the portal's fix form and `PATCH /api/v1/records/{form}/{id}` go through the library's
checked edit (`passage.edits`) and show its findings located; released readers keep the released version of a
record, whatever an edit did to it, until the country is published again.

The seeded demo has Nigeria, South Sudan and Chad released and Afghanistan unpublished.
"""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest

RECORDS = "/api/v1/datasets/dtm_idps/records"
# The key fields of a DTM record besides its level: copying them from another record gives its key.
KEY_FIELDS = ("admin1_pcode", "admin1_name", "admin2_pcode", "admin2_name", "operation", "assessment_type",
              "round_number", "reporting_date", "displacement_reason", "idp_origin_admin1_name",
              "idp_origin_admin1_pcode")


def csrf_of(client: httpx.Client) -> str:
    page = client.get("/login")
    return page.text.split('name="csrf_token" value="')[1].split('"')[0]


def page_of(record_id: str) -> str:
    return f"/records/dtm_idps/{quote(record_id, safe='')}"


def api_of(record_id: str) -> str:
    return f"/api/v1/records/dtm_idps/{quote(record_id, safe='')}"


@pytest.fixture(scope="module")
def clients(portal) -> dict[str, httpx.Client]:
    out = {"public": portal.client(), **{u: portal.client(u) for u in ("admin", "editor-nga", "editor-tcd",
                                                                     "viewer-ssd")}}
    nga = out["editor-nga"]
    r = nga.post("/api/v1/tokens", data={"name": "edits"}, headers={"X-CSRF-Token": csrf_of(nga)})
    out["token-nga"] = httpx.Client(base_url=portal.url, timeout=60,
                                    headers={"Authorization": f"Bearer {r.json()['token']}"})
    return out


@pytest.fixture(scope="module")
def nga_records(clients) -> list[dict]:
    """Nigerian admin 2 records, as the admin reads them (each test edits its own)."""
    rows = clients["admin"].get(RECORDS, params={"country": "NGA", "level": 2, "limit": 50}).json()["data"]
    assert len(rows) >= 6
    return rows


def versions(clients, record_id: str) -> list[int]:
    return [v["_version"] for v in clients["admin"].get(api_of(record_id)).json()["versions"]]


def current(clients, record_id: str) -> dict:
    return clients["admin"].get(api_of(record_id)).json()["record"]


def test_the_issue_post_is_refused_out_of_scope_and_changes_nothing(clients, nga_records):
    """editor-nga posted admin0_pcode=AFG with 999,999 IDPs: it was saved and drawn on the admin's AFG map."""
    admin, nga, public = clients["admin"], clients["editor-nga"], clients["public"]
    target = nga_records[0]
    maps = [admin.get("/api/v1/countries/AFG/map", params={"level": lv}).json() for lv in (1, 2)]
    seen = public.get(RECORDS, params={"place": target["_place_code"], "level": 2, "limit": 1000}).json()["data"]
    before = versions(clients, target["_record_id"])

    r = nga.post(page_of(target["_record_id"]), data={"csrf_token": csrf_of(nga), "f_admin0_pcode": "AFG",
                                                      "f_num_present_idp_ind": "999999"})
    assert r.status_code == 422, r.text[:300]
    assert 'data-field="admin0_pcode" data-code="out-of-scope"' in r.text
    assert 'name="f_admin0_pcode" value="AFG" aria-invalid="true"' in r.text  # what was sent, marked
    assert versions(clients, target["_record_id"]) == before
    assert [admin.get("/api/v1/countries/AFG/map", params={"level": lv}).json() for lv in (1, 2)] == maps
    assert "999999" not in str(maps)
    assert public.get(RECORDS, params={"place": target["_place_code"], "level": 2,
                                       "limit": 1000}).json()["data"] == seen


def test_the_fix_form_shows_each_finding_beside_its_field(clients, nga_records):
    nga = clients["editor-nga"]
    target = nga_records[1]
    r = nga.post(page_of(target["_record_id"]), data={"csrf_token": csrf_of(nga), "f_num_present_idp_ind": "many",
                                                      "f_month_reporting_date": "13"})
    assert r.status_code == 422
    assert 'data-testid="rejected"' in r.text
    assert 'data-field="num_present_idp_ind" data-code="type-integer"' in r.text
    assert 'data-field="month_reporting_date" data-code="constraint"' in r.text
    assert 'name="f_num_present_idp_ind" value="many" aria-invalid="true"' in r.text
    assert versions(clients, target["_record_id"]) == [1]
    # and a valid fix is still a new version
    value = target["num_present_idp_ind"] + 7
    r = nga.post(page_of(target["_record_id"]), data={"csrf_token": csrf_of(nga),
                                                      "f_num_present_idp_ind": str(value)})
    assert r.status_code == 303 and r.headers["location"].endswith("?saved=1")
    assert versions(clients, target["_record_id"]) == [1, 2]
    assert current(clients, target["_record_id"])["num_present_idp_ind"] == value


def _findings(r: httpx.Response) -> set[tuple]:
    body = r.json()
    assert body["error"]["code"] == "edit.rejected"
    return {(f["column"], f["code"]) for f in body["error"]["report"]["findings"] if f["severity"] == "error"}


def test_api_patch_runs_the_same_checks(clients, nga_records):
    token = clients["token-nga"]
    target, other = nga_records[2], nga_records[3]
    path = api_of(target["_record_id"])
    r = token.patch(path, json={"month_reporting_date": 13})
    assert r.status_code == 422 and _findings(r) == {("month_reporting_date", "constraint")}
    r = token.patch(path, json={"admin2_pcode": "NG999999"})
    assert r.status_code == 422 and ("admin2_pcode", "pcode-unknown") in _findings(r)
    r = token.patch(path, json={"num_present_idp_ind": "lots"})
    assert r.status_code == 422 and _findings(r) == {("num_present_idp_ind", "type-integer")}
    r = token.patch(path, json={k: other[k] for k in KEY_FIELDS})  # another record's key
    assert r.status_code == 422 and _findings(r) == {(None, "duplicate-key-store")}
    r = token.patch(path, json={"admin0_pcode": "TCD", "admin1_pcode": "TD07", "admin1_name": "Lac",
                                "admin2_pcode": "TD0704", "admin2_name": "Mamdi"})
    assert r.status_code == 422 and ("admin0_pcode", "out-of-scope") in _findings(r)
    r = token.patch(path, json={"num_present_idp_ind": True})
    assert r.status_code == 400
    assert versions(clients, target["_record_id"]) == [1]

    r = token.patch(path, json={"num_present_idp_ind": target["num_present_idp_ind"] + 3})
    assert r.status_code == 200, r.text
    assert r.json() == {"form": "dtm_idps", "record_id": target["_record_id"], "version": 2}
    latest = clients["admin"].get(path).json()["versions"][-1]
    assert (latest["_version"], latest["_user"]) == (2, "editor-nga")


def test_api_patch_needs_an_editor_of_the_place_and_the_csrf_token(clients, nga_records):
    target = nga_records[4]
    path = api_of(target["_record_id"])
    change = {"num_present_idp_ind": target["num_present_idp_ind"] + 1}
    r = clients["public"].patch(path, json=change)
    assert (r.status_code, r.json()["error"]["code"]) == (401, "auth.required")
    for who in ("editor-tcd", "viewer-ssd"):
        c = clients[who]
        r = c.patch(path, json=change, headers={"X-CSRF-Token": csrf_of(c)})
        assert (r.status_code, r.json()["error"]["code"]) == (403, "forbidden"), who
    nga = clients["editor-nga"]
    r = nga.patch(path, json=change)
    assert (r.status_code, r.json()["error"]["code"]) == (403, "csrf")
    assert versions(clients, target["_record_id"]) == [1]
    r = nga.patch(path, json=change, headers={"X-CSRF-Token": csrf_of(nga)})
    assert r.status_code == 200 and r.json()["version"] == 2


def _public_rows(client: httpx.Client, place: str, level: int) -> dict[str, dict]:
    rows = client.get(RECORDS, params={"place": place, "level": level, "limit": 1000}).json()["data"]
    return {r["_record_id"]: r for r in rows}


def test_released_readers_keep_the_released_version_until_the_next_release(clients, nga_records):
    """Last in this module: it publishes Nigeria."""
    admin, nga = clients["admin"], clients["editor-nga"]
    changed = nga_records[5]
    level1 = admin.get(RECORDS, params={"country": "NGA", "level": 1, "limit": 1}).json()["data"][0]
    readers = ("public", "viewer-ssd", "editor-tcd")
    before = {who: (_public_rows(clients[who], changed["_place_code"], 2),
                    _public_rows(clients[who], level1["_place_code"], 1)) for who in readers}
    assert changed["_record_id"] in before["public"][0] and level1["_record_id"] in before["public"][1]

    r = nga.patch(api_of(changed["_record_id"]), json={"num_present_idp_ind": changed["num_present_idp_ind"] + 11},
                  headers={"X-CSRF-Token": csrf_of(nga)})
    assert r.status_code == 200
    r = admin.patch(api_of(level1["_record_id"]), json={"admin0_pcode": "AFG", "admin0_name": "Afghanistan",
                                                        "admin1_pcode": "AF01", "admin1_name": "Kabul"},
                    headers={"X-CSRF-Token": csrf_of(admin)})
    assert r.status_code == 200, r.text
    assert current(clients, level1["_record_id"])["admin0_pcode"] == "AFG"

    for who in readers:
        after = (_public_rows(clients[who], changed["_place_code"], 2),
                 _public_rows(clients[who], level1["_place_code"], 1))
        assert after == before[who], who
    page = clients["public"].get("/datasets/dtm_idps/records", params={"country": "NGA", "level": 1,
                                                                       "place": level1["_place_code"]})
    assert quote(level1["_record_id"], safe="") in page.text
    record = clients["public"].get(api_of(changed["_record_id"])).json()["record"]
    assert record["num_present_idp_ind"] == changed["num_present_idp_ind"]

    r = nga.post("/api/v1/datasets/dtm_idps/releases", data={"country": "NGA"}, headers={"X-CSRF-Token": csrf_of(nga)})
    assert r.status_code == 201
    for who in readers:
        rows, moved = (_public_rows(clients[who], changed["_place_code"], 2),
                       _public_rows(clients[who], level1["_place_code"], 1))
        assert rows[changed["_record_id"]]["num_present_idp_ind"] == changed["num_present_idp_ind"] + 11, who
        assert level1["_record_id"] not in moved, who  # Afghan now, and Afghanistan is unpublished
