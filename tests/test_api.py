"""The REST API over real HTTP: pagination, CSV and JSON, ETags, errors, tokens, CSRF, sign-in limits, imports,
indicators, exports and documents — against a running portal over the seeded demo store."""

from __future__ import annotations

import csv
import io
import json
import re
from urllib.parse import quote

import httpx
import openpyxl
import pyarrow.parquet as pq
import pytest

from dtm_rows import api_rows, write_csv
from portal import csrf_of, error_of

RECORDS = "/api/v1/datasets/dtm_idps/records"
ABADAM = ("NG008", "Borno", "NG008001", "Abadam")




def country_count(client: httpx.Client, iso3: str) -> int:
    rows = client.get("/api/v1/countries").json()["data"]
    return next(r["records"] for r in rows if r["code"] == iso3)


def abadam_rows(round_number: int, counts: dict[str, int]) -> list[dict]:
    return api_rows("NGA", [(2, *ABADAM, round_number, "2024-08-31", reason, idps, None, None)
                            for reason, idps in counts.items()])


# ---- pagination, CSV, ETags -----------------------------------------------------------------------------

@pytest.mark.parametrize("limit", [1000, 333])
def test_pages_walk_every_record_once(portal, limit):
    c = portal.client()
    expected = country_count(c, "NGA")
    assert expected > limit  # more than one page
    seen, url, pages = [], f"{RECORDS}?country=NGA&limit={limit}", 0
    while url:
        body = c.get(url).json()
        assert len(body["data"]) <= limit
        seen += [r["_record_id"] for r in body["data"]]
        assert all(r["admin0_pcode"] == "NGA" for r in body["data"])
        assert (body["next_cursor"] is None) == (body["links"]["next"] is None)
        url, pages = body["links"]["next"], pages + 1
    assert pages == -(-expected // limit)
    assert len(seen) == len(set(seen)) == expected
    assert seen == sorted(seen)


def test_csv_pages_follow_the_link_header(portal):
    c = portal.client()
    seen, url = [], f"{RECORDS}?country=TCD&limit=100&format=csv"
    while url:
        r = c.get(url)
        assert r.headers["content-type"].startswith("text/csv")
        seen += [row["_record_id"] for row in csv.DictReader(io.StringIO(r.text))]
        url = r.links.get("next", {}).get("url")
    assert len(seen) == len(set(seen)) == country_count(c, "TCD")


@pytest.mark.parametrize("cursor", ["!!!", "not a cursor", "_w", "%00"])
def test_a_bad_cursor_is_a_usage_error(portal, cursor):
    r = portal.client().get(RECORDS, params={"country": "NGA", "cursor": cursor})
    assert error_of(r, 400)["code"] == "usage.cursor"


def test_csv_matches_json(portal):
    c = portal.client()
    params = {"country": "TCD", "level": 2, "limit": 60}
    as_json = c.get(RECORDS, params=params).json()["data"]
    r = c.get(RECORDS, params={**params, "format": "csv"})
    assert r.headers["content-type"].startswith("text/csv")
    reader = csv.DictReader(io.StringIO(r.text))
    as_csv = list(reader)
    assert reader.fieldnames == list(as_json[0])
    assert len(as_csv) == len(as_json) == 60

    def text(v):
        if v is None:
            return ""
        if isinstance(v, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+", v):
            return v.replace("T", " ")
        return str(v)

    assert [{k: text(v) for k, v in row.items()} for row in as_json] == as_csv
    assert {row["admin0_pcode"] for row in as_csv} == {"TCD"} and {row["admin_level"] for row in as_csv} == {"2"}


def test_etags_answer_304_and_change_with_a_published_edit(portal):
    public, editor = portal.client(), portal.client("editor-nga")
    params = {"place": "NG008001", "level": 2}
    first = public.get(RECORDS, params=params)
    etag = first.headers["etag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)
    again = public.get(RECORDS, params=params, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert public.get(RECORDS, params=params, headers={"If-None-Match": '"other"'}).status_code == 200
    assert public.get(RECORDS, params={**params, "format": "csv"}).headers["etag"] != etag

    record = first.json()["data"][0]
    editor_etag = editor.get(RECORDS, params=params).headers["etag"]
    new_value = record["num_present_idp_ind"] + 7
    r = editor.post(f"/records/dtm_idps/{quote(record['_record_id'], safe='')}",
                    data={"csrf_token": csrf_of(editor), "f_num_present_idp_ind": str(new_value)})
    assert r.status_code == 303
    # The editor sees the edit at once; the public keeps the released version (and its ETag) until a release.
    changed = editor.get(RECORDS, params=params, headers={"If-None-Match": editor_etag})
    assert changed.status_code == 200
    assert next(x for x in changed.json()["data"] if x["_record_id"] == record["_record_id"])[
        "num_present_idp_ind"] == new_value
    assert public.get(RECORDS, params=params, headers={"If-None-Match": etag}).status_code == 304

    r = editor.post("/api/v1/datasets/dtm_idps/releases", data={"country": "NGA", "note": "fix"},
                    headers={"X-CSRF-Token": csrf_of(editor)})
    assert r.status_code == 201 and r.json()["country"] == "NGA"
    after = public.get(RECORDS, params=params, headers={"If-None-Match": etag})
    assert after.status_code == 200 and after.headers["etag"] != etag
    assert next(x for x in after.json()["data"] if x["_record_id"] == record["_record_id"])[
        "num_present_idp_ind"] == new_value


# ---- errors ------------------------------------------------------------------------------------------------

def test_errors_are_json_with_codes(portal):
    public, viewer = portal.client(), portal.client("viewer-ssd")
    bad_limit = error_of(public.get(RECORDS, params={"limit": 0}), 400)
    assert bad_limit["code"] == "usage" and bad_limit["details"][0]["location"] == "query.limit"
    assert error_of(public.get(RECORDS, params={"limit": 1001}), 400)["code"] == "usage"
    assert error_of(public.get(RECORDS, params={"date_from": "2024-02-01", "date_to": "2024-01-01"}),
                    400)["code"] == "usage.dates"
    assert error_of(public.get(RECORDS, params={"country": "nga"}), 400)["code"] == "usage"
    assert error_of(public.get("/api/v1/indicators/idps", params={"group": "nosuch"}), 400)["code"] == "usage.group"
    assert error_of(public.get("/api/v1/tokens"), 401)["code"] == "auth.required"
    assert error_of(public.get("/api/v1/me", headers={"Authorization": "Bearer psg_0000_nope"}),
                    401)["code"] == "auth.bad_token"
    assert error_of(viewer.get("/api/v1/imports"), 403)["code"] == "forbidden"
    for path in ("/api/v1/datasets/nosuch", "/api/v1/datasets/nosuch/records", "/api/v1/indicators/nosuch",
                 "/api/v1/records/dtm_idps/nosuch", "/api/v1/exports/nosuch", "/api/v1/documents/999999",
                 "/api/v1/no/such/route"):
        assert error_of(public.get(path), 404)["code"].endswith("not_found"), path
    assert error_of(public.delete("/api/v1/me"), 405)["code"] == "usage.method"


# ---- tokens, CSRF, sessions, sign-in limits, audit ----------------------------------------------------------

def test_tokens_create_list_use_revoke(portal):
    c = portal.client("editor-tcd")
    csrf = csrf_of(c)
    assert error_of(c.post("/api/v1/tokens", data={"name": "laptop"}), 403)["code"] == "csrf"
    assert error_of(c.post("/api/v1/tokens", data={"name": "laptop"}, headers={"X-CSRF-Token": "wrong"}),
                    403)["code"] == "csrf"
    created = c.post("/api/v1/tokens", data={"name": "laptop"}, headers={"X-CSRF-Token": csrf})
    assert created.status_code == 201
    token, token_id = created.json()["token"], created.json()["token_id"]
    assert token.startswith(f"psg_{token_id}_")

    listing = c.get("/api/v1/tokens")
    assert [(t["token_id"], t["name"], t["revoked_at"]) for t in listing.json()["data"]] == \
        [(token_id, "laptop", None)]
    assert token.split("_", 2)[2] not in listing.text and "hash" not in listing.text

    bearer = httpx.Client(base_url=portal.url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
    assert bearer.get("/api/v1/me").json() == {"user": "editor-tcd", "role": "editor", "scopes": ["TCD"]}
    assert bearer.get("/api/v1/imports").status_code == 200  # the token acts with its user's role
    # Another user's token is not theirs to revoke, with or without a valid CSRF token.
    other = portal.client("editor-nga")
    assert error_of(other.delete(f"/api/v1/tokens/{token_id}", headers={"X-CSRF-Token": csrf_of(other)}),
                    404)["code"] == "not_found"
    assert error_of(c.delete(f"/api/v1/tokens/{token_id}"), 403)["code"] == "csrf"
    assert bearer.get("/api/v1/me").status_code == 200

    assert c.delete(f"/api/v1/tokens/{token_id}", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert error_of(bearer.get("/api/v1/me"), 401)["code"] == "auth.bad_token"
    assert c.get("/api/v1/tokens").json()["data"][0]["revoked_at"] is not None

    audit = portal.client("admin").get("/admin/audit", params={"action": "token."}).text
    assert "token.create" in audit and "token.revoke" in audit and token_id in audit
    assert token.split("_", 2)[2] not in audit


def test_session_cookie_flags_and_form_csrf(portal):
    c = httpx.Client(base_url=portal.url, timeout=60)
    page = c.get("/login")
    csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    form = {"user_name": "viewer-ssd", "password": portal.password("viewer-ssd"), "next": "/"}
    refused = c.post("/login", data={**form, "csrf_token": "forged"})
    assert refused.status_code == 403 and "passage_session" not in refused.headers.get("set-cookie", "")
    r = c.post("/login", data={**form, "csrf_token": csrf})
    assert r.status_code == 303
    cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith("passage_session="))
    flags = {f.strip().split("=")[0].lower(): f.strip() for f in cookie.split(";")[1:]}
    assert "httponly" in flags and flags["samesite"].lower() == "samesite=lax"
    assert "secure" not in flags  # plain HTTP here; HTTPS requests get Secure
    assert c.get("/api/v1/me").json()["user"] == "viewer-ssd"
    # A signed-in form without its token changes nothing.
    assert c.post("/logout", data={}).status_code == 403
    assert c.get("/api/v1/me").json()["user"] == "viewer-ssd"
    assert c.post("/logout", data={"csrf_token": csrf_of(c)}).status_code == 303
    assert c.get("/api/v1/me").json()["role"] == "public"


def test_sign_in_is_rate_limited_at_the_sixth_attempt(portal):
    admin = portal.client("admin")
    password = "Correct-horse-battery-9"
    r = admin.post("/admin/users", data={"user_name": "amina", "password": password, "role": "viewer",
                                         "scopes": "SSD", "csrf_token": csrf_of(admin)})
    assert r.status_code == 303
    c = httpx.Client(base_url=portal.url, timeout=60)
    csrf = c.get("/login").text.split('name="csrf_token" value="')[1].split('"')[0]

    def attempt(pw: str) -> httpx.Response:
        return c.post("/login", data={"user_name": "amina", "password": pw, "csrf_token": csrf, "next": "/"})

    assert [attempt(f"wrong-{i}").status_code for i in range(6)] == [401] * 5 + [429]
    right = attempt(password)  # refused too: the password is not even checked while locked out
    assert right.status_code == 429 and "passage_session" not in right.headers.get("set-cookie", "")
    assert c.get("/api/v1/me").json()["role"] == "public"

    audit = admin.get("/admin/audit", params={"action": "auth."}).text
    assert "auth.sign_in_failed" in audit and "rate_limited" in audit
    assert re.search(r"<td>admin</td><td><code>auth\.sign_in</code>", audit)


# ---- imports ---------------------------------------------------------------------------------------------

def test_import_rejects_with_located_findings_then_commits_the_fix(portal, tmp_path):
    editor = portal.client("editor-nga")
    token = editor.post("/api/v1/tokens", data={"name": "import script"},
                        headers={"X-CSRF-Token": csrf_of(editor)}).json()["token"]
    api = httpx.Client(base_url=portal.url, headers={"Authorization": f"Bearer {token}"}, timeout=120)
    before = country_count(api, "NGA")
    where = {"place": "NG008001", "round": 47}

    bad = write_csv(tmp_path / "abadam-r47-bad.csv", abadam_rows(47, {"Conflict": 4321, "Natural disaster": -40}))
    with bad.open("rb") as fh:
        r = api.post("/api/v1/imports", data={"kind": "dtm"}, files={"file": (bad.name, fh, "text/csv")})
    assert r.status_code == 422
    body = r.json()
    assert body["status"] == "rejected" and body["ok"] is False and body["inserted"] == 0
    located = [(f["severity"], f["file"], f["row"], f["column"], f["value"]) for f in body["report"]["findings"]
               if f["code"] == "negative-count"]
    assert located == [("error", "abadam-r47-bad.csv", 4, "numPresentIdpInd", "-40")]
    assert body["report"]["counts"]["negative-count"] == 1
    assert country_count(api, "NGA") == before
    assert api.get(RECORDS, params=where).json()["data"] == []

    good = write_csv(tmp_path / "abadam-r47.csv", abadam_rows(47, {"Conflict": 4321, "Natural disaster": 40}))
    with good.open("rb") as fh:
        r = api.post("/api/v1/imports", data={"kind": "dtm"}, files={"file": (good.name, fh, "text/csv")})
    assert r.status_code == 200, r.text[:1000]
    assert (r.json()["status"], r.json()["inserted"]) == ("committed", 2)
    assert country_count(api, "NGA") == before + 2
    stored = api.get(RECORDS, params=where).json()["data"]
    assert sorted(x["num_present_idp_ind"] for x in stored) == [40, 4321]
    assert {x["_user"] for x in stored} == {"editor-nga"}
    # Unpublished: the public does not see the new round yet.
    assert portal.client().get(RECORDS, params=where).json()["data"] == []

    log = api.get("/api/v1/imports", params={"limit": 2}).json()["data"]
    assert [(e["status"], e["user_name"]) for e in log] == [("committed", "editor-nga"), ("rejected", "editor-nga")]
    audit = portal.client("admin").get("/admin/audit", params={"action": "import."}).text
    assert "import.rejected" in audit and "import.committed" in audit


def test_import_needs_an_editor_a_known_kind_and_a_csrf_token(portal, tmp_path):
    path = write_csv(tmp_path / "abadam-r48.csv", abadam_rows(48, {"Conflict": 10}))

    def post(client, **extra):
        with path.open("rb") as fh:
            return client.post("/api/v1/imports", files={"file": (path.name, fh, "text/csv")}, **extra)

    assert error_of(post(portal.client(), data={"kind": "dtm"}), 401)["code"] == "auth.required"
    viewer = portal.client("viewer-ssd")
    assert error_of(post(viewer, data={"kind": "dtm"}, headers={"X-CSRF-Token": csrf_of(viewer)}),
                    403)["code"] == "forbidden"
    editor = portal.client("editor-nga")
    assert error_of(post(editor, data={"kind": "dtm"}), 403)["code"] == "csrf"
    assert error_of(post(editor, data={"kind": "nosuch"}, headers={"X-CSRF-Token": csrf_of(editor)}),
                    400)["code"] == "usage.kind"


# ---- indicators, exports, documents -----------------------------------------------------------------------

def test_indicator_grouped_by_round_sums_the_records(portal):
    c = portal.client()
    rows = c.get("/api/v1/indicators/idps", params={"country": "TCD", "level": 1, "group": "round_number"})
    grouped = {r["round_number"]: r["value"] for r in rows.json()["data"]}
    assert set(rows.json()["data"][0]) == {"round_number", "value"}
    records = c.get(RECORDS, params={"country": "TCD", "level": 1, "limit": 1000}).json()["data"]
    expected: dict[int, int] = {}
    for rec in records:
        expected[rec["round_number"]] = expected.get(rec["round_number"], 0) + rec["num_present_idp_ind"]
    assert grouped == expected and len(grouped) > 3

    two = c.get("/api/v1/indicators/idps", params={"country": "TCD", "level": 1,
                                                    "group": "round_number, reporting_date"}).json()["data"]
    assert {r["round_number"]: r["value"] for r in two} == expected and all(r["reporting_date"] for r in two)
    as_csv = list(csv.DictReader(io.StringIO(c.get("/api/v1/indicators/idps", params={
        "country": "TCD", "level": 1, "group": "round_number", "format": "csv"}).text)))
    assert {int(r["round_number"]): int(r["value"]) for r in as_csv} == expected


@pytest.mark.parametrize("table", ["dtm_idps", "hapi-idps"])
def test_exports_in_every_format_agree(portal, table):
    c = portal.client()
    listed = c.get("/api/v1/exports").json()
    assert {"csv", "hxl", "xlsx", "parquet", "json"} == set(listed["formats"])
    assert table in {t["name"] for t in listed["data"]}

    def get(fmt: str) -> httpx.Response:
        r = c.get(f"/api/v1/exports/{table}", params={"format": fmt, "country": "TCD"})
        assert r.status_code == 200, r.text[:300]
        assert "attachment" in r.headers["content-disposition"] and "TCD" in r.headers["content-disposition"]
        return r

    rows = list(csv.DictReader(io.StringIO(get("csv").text)))
    assert rows
    n, header = len(rows), list(rows[0])

    hxl = list(csv.reader(io.StringIO(get("hxl").text)))
    assert hxl[0] == header and all(t == "" or t.startswith("#") for t in hxl[1])
    assert sum(t.startswith("#") for t in hxl[1]) >= 5 and len(hxl) == n + 2

    book = openpyxl.load_workbook(io.BytesIO(get("xlsx").content), read_only=True)
    sheet_rows = list(book.worksheets[0].iter_rows(values_only=True))
    assert list(sheet_rows[0]) == header and len(sheet_rows) - 1 == n

    parquet = pq.read_table(io.BytesIO(get("parquet").content))
    assert parquet.column_names == header and parquet.num_rows == n

    data = get("json").json()
    assert len(data) == n and list(data[0]) == header

    bad = c.get(f"/api/v1/exports/{table}", params={"format": "pdf"})
    assert error_of(bad, 400)["code"] == "usage"


def test_exports_hold_only_what_the_caller_may_read(portal):
    public, admin = portal.client(), portal.client("admin")
    params = {"format": "csv", "country": "AFG"}
    assert list(csv.DictReader(io.StringIO(public.get("/api/v1/exports/dtm_idps", params=params).text))) == []
    afg = list(csv.DictReader(io.StringIO(admin.get("/api/v1/exports/dtm_idps", params=params).text)))
    assert afg and {r["admin0Pcode"] for r in afg} == {"AFG"}


def test_documents_search_filters_and_files(portal):
    c = portal.client()
    hits = c.get("/api/v1/documents", params={"q": "displacement report"}).json()
    assert hits["total"] >= 1 and hits["data"][0]["title"].startswith("Nigeria")
    assert hits["data"][0]["snippet"]
    french = c.get("/api/v1/documents", params={"language": "fr"}).json()["data"]
    assert [d["language"] for d in french] == ["fr"] and "Tchad" in french[0]["title"]
    ssd = c.get("/api/v1/documents", params={"place": "SSD"}).json()["data"]
    assert {d["title"][:11] for d in ssd} >= {"South Sudan", "Sudán del S"}
    assert all(d["kind"] == "map" for d in c.get("/api/v1/documents", params={"kind": "map"}).json()["data"])
    assert c.get("/api/v1/documents", params={"q": "zzzqqqxxx"}).json() == {"total": 0, "data": []}

    first = hits["data"][0]
    doc = c.get(f"/api/v1/documents/{first['doc_id']}").json()
    assert doc["title"] == first["title"] and "body" not in doc
    f = c.get(doc["file"])
    assert f.status_code == 200 and f.content.startswith(b"%PDF") and f.headers["content-security-policy"] == "sandbox"
    paged = c.get("/api/v1/documents", params={"limit": 2, "offset": 2}).json()
    everything = c.get("/api/v1/documents", params={"limit": 100}).json()
    assert [d["doc_id"] for d in paged["data"]] == [d["doc_id"] for d in everything["data"]][2:4]
    assert paged["total"] == everything["total"] == len(everything["data"])


def test_openapi_describes_the_api(portal):
    spec = portal.client().get("/api/v1/openapi.json").json()
    assert spec["info"]["title"] == "Passage API"
    records = spec["paths"]["/api/v1/datasets/{name}/records"]["get"]
    assert {p["name"] for p in records["parameters"]} >= {"country", "cursor", "limit", "format"}
    assert {"200", "400", "404"} <= set(records["responses"])
    assert "text/csv" in records["responses"]["200"]["content"]
    assert json.dumps(spec).count("HTTPValidationError") == 0  # invalid parameters answer 400 with the error model


def test_a_refused_document_upload_answers_422_with_the_report(portal, tmp_path):
    """Documents return their report like every import verb; the web's one helper turns a refusal into 422."""
    editor = portal.client("editor-nga")
    fake = tmp_path / "fake.pdf"
    fake.write_bytes(b"not a pdf at all\n")

    def upload(**headers):
        with fake.open("rb") as fh:
            return editor.post("/documents/new", files={"file": (fake.name, fh, "application/pdf")},
                               data={"title": "Fake", "places": "NGA", "csrf_token": csrf_of(editor)}, headers=headers)

    error = error_of(upload(), 422)
    assert error["code"] == "import.rejected"
    assert [(f["code"], f["file"]) for f in error["report"]["findings"]] == [("doc.media_type", "fake.pdf")]
    page = upload(Accept="text/html")
    assert page.status_code == 422 and "doc.media_type" in page.text
    assert "fake.pdf" not in editor.get("/api/v1/documents", params={"limit": 100}).text
