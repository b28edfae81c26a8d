"""The portal's review queue: an admin imports a COBAP list with --on-error quarantine from the import page; the
editor of Nigeria sees the Nigerian held row only, corrects it in the browser's form (checked as an import checks
it), and releases it; CSRF as every other form."""

from __future__ import annotations

import re

import pytest

from travel_fixtures import cobap_rows, write_cobap


def csrf_of(client) -> str:
    page = client.get("/login")
    return page.text.split('name="csrf_token" value="')[1].split('"')[0]


@pytest.fixture(scope="module")
def imported(portal, tmp_path_factory):
    rows = cobap_rows("mdy")
    for i, r in enumerate(rows):
        r["ID"] = f"QT{i:02d}"
    rows[0].update({"ISO3": "NGA", "ISO2": "NG", "COUNTRY_NAME": "Nigeria", "START_DATE": "NONE"})
    rows[1]["START_DATE"] = "NONE"  # Morocco
    path = write_cobap(tmp_path_factory.mktemp("cobap") / "policy_list.csv", rows=rows)
    admin = portal.client("admin")
    with path.open("rb") as fh:
        r = admin.post("/import", data={"kind": "cobap", "on_error": "quarantine", "csrf_token": csrf_of(admin)},
                       files={"file": ("policy_list.csv", fh, "text/csv")})
    assert r.status_code == 200, r.text[-2000:]
    return r.text, len(rows)


def _held_ids(page: str) -> list[int]:
    return [int(x) for x in re.findall(r'href="/quarantine/(\d+)"', page)]


def test_the_import_page_states_the_counts(imported):
    page, n = imported
    assert f"{n - 2} loaded, 2 quarantined" in page
    assert "START_DATE is NONE" in page


def test_an_editor_corrects_and_releases_a_row_of_their_place(portal, imported):
    nga = portal.client("editor-nga")
    queue = nga.get("/quarantine")
    assert queue.status_code == 200 and 'href="/quarantine"' in queue.text  # in the menu too
    ids = _held_ids(queue.text)
    assert len(ids) == 1
    qid = ids[0]
    row = nga.get(f"/quarantine/{qid}")
    assert row.status_code == 200 and "START_DATE is NONE" in row.text and 'name="f_date_in_force"' in row.text
    csrf = row.text.split('name="csrf_token" value="')[1].split('"')[0]
    assert nga.post(f"/quarantine/{qid}/fix", data={"f_date_in_force": "2020-03-20"}).status_code == 403  # no CSRF
    bad = nga.post(f"/quarantine/{qid}/fix", data={"f_date_in_force": "20 March", "csrf_token": csrf})
    assert bad.status_code == 422 and 'data-code="type-date"' in bad.text
    refused = nga.post(f"/quarantine/{qid}/release", data={"csrf_token": csrf})
    assert refused.status_code == 422
    good = nga.post(f"/quarantine/{qid}/fix", data={"f_date_in_force": "2020-03-20", "csrf_token": csrf})
    assert good.status_code == 200 and 'id="ready"' in good.text
    released = nga.post(f"/quarantine/{qid}/release", data={"csrf_token": csrf})
    assert released.status_code == 303 and "record=cobap%7CQT00" in released.headers["location"].replace("|", "%7C")
    assert _held_ids(nga.get("/quarantine").text) == []
    record = portal.client("admin").get("/api/v1/records/travel_measure/cobap%7CQT00")
    assert record.status_code == 200 and record.json()["record"]["date_in_force"].startswith("2020-03-20")


def test_others_cannot_see_or_change_a_row(portal, imported):
    admin = portal.client("admin")
    ids = _held_ids(admin.get("/quarantine").text)
    assert ids, "the Moroccan row is still held"
    mar = ids[0]
    tcd = portal.client("editor-tcd")
    assert tcd.get(f"/quarantine/{mar}").status_code == 404
    csrf = csrf_of(tcd)
    assert tcd.post(f"/quarantine/{mar}/drop", data={"csrf_token": csrf}).status_code == 404
    assert portal.client("viewer-ssd").get("/quarantine").status_code == 403
    assert portal.client().get("/quarantine").status_code in (401, 403)
    dropped = admin.post(f"/quarantine/{mar}/drop", data={"csrf_token": csrf_of(admin), "reason": "not a policy"})
    assert dropped.status_code == 303
    assert _held_ids(admin.get("/quarantine").text) == []


def test_the_api_takes_on_error_and_answers_the_counts(portal, tmp_path):
    rows = cobap_rows("mdy")
    for i, r in enumerate(rows):
        r["ID"] = f"QA{i:02d}"
    rows[2]["START_DATE"] = "NONE"
    path = write_cobap(tmp_path / "api.csv", rows=rows)
    admin = portal.client("admin")
    with path.open("rb") as fh:
        r = admin.post("/api/v1/imports", data={"kind": "cobap", "on_error": "quarantine"},
                       files={"file": ("api.csv", fh, "text/csv")}, headers={"X-CSRF-Token": csrf_of(admin)})
    assert r.status_code == 200, r.text[:500]
    body = r.json()
    assert (body["status"], body["loaded"], body["quarantined"]) == ("committed", len(rows) - 1, 1)
    assert body["summary"] == f"{len(rows) - 1} loaded, 1 quarantined"
    with path.open("rb") as fh:
        bad = admin.post("/api/v1/imports", data={"kind": "cobap", "on_error": "skip"},
                         files={"file": ("api.csv", fh, "text/csv")}, headers={"X-CSRF-Token": csrf_of(admin)})
    assert bad.status_code == 400  # not an on_error value: a usage error
