"""The import log and the annual report start from what their reader may read.

Nigeria and Chad are imported by different people; Nigeria alone is released. An editor of Nigeria reads
only the imports of Nigeria (and their own, even rejected), never Chad's file names, users or messages; the
report of a reader who may not see Chad counts no Chadian figure and names no Chadian file.
"""

from __future__ import annotations

import pytest

from dtm_rows import NGA, TCD, api_rows, write_csv
from passage import releases
from passage.access import readable_imports
from passage.auth.principal import PUBLIC, Principal
from passage.errors import Forbidden
from passage.ingest import import_files
from passage.packs.institutional.report.annual import build

TCD_ALL = [(0, "", "", "", "", 10, "2023-05-31", "Conflict", 1200, None, None), *TCD]
ADMIN = Principal("root", "admin")
EDITOR_NGA = Principal("amina", "editor", frozenset({"NGA"}))
VIEWER = Principal("vera", "viewer", frozenset({"SSD"}))


@pytest.fixture
def two_countries(any_store, tmp_path):
    nga = import_files(any_store, "dtm", [write_csv(tmp_path / "nga_round_41.csv", api_rows("NGA", NGA))],
                       user="root")
    tcd = import_files(any_store, "dtm", [write_csv(tmp_path / "tchad_secret.csv", api_rows("TCD", TCD_ALL))],
                       user="tom")
    bad = api_rows("TCD", TCD_ALL)
    bad[0]["numPresentIdpInd"] = -5
    rejected = import_files(any_store, "dtm", [write_csv(tmp_path / "tchad_rejected.csv", bad)], user="tom")
    own = import_files(any_store, "dtm", [write_csv(tmp_path / "amina_try.csv", api_rows("TCD", TCD[:1]))],
                       user="amina", scopes=["NGA"])
    assert (nga.status, tcd.status, rejected.status, own.status) == ("committed", "committed", "rejected",
                                                                      "rejected")
    releases.publish(any_store, "dtm_idps", "NGA")
    return any_store, {"nga": nga.import_id, "tcd": tcd.import_id, "rejected": rejected.import_id,
                       "own": own.import_id}


def test_an_editor_sees_only_imports_of_their_places(two_countries):
    store, ids = two_countries
    everything = readable_imports(store, ADMIN)
    assert {r["import_id"] for r in everything} >= set(ids.values())
    mine = readable_imports(store, EDITOR_NGA)
    assert {r["import_id"] for r in mine} == {ids["nga"], ids["own"]}
    shown = repr(mine)
    assert "tchad" not in shown and "tom" not in shown
    assert [r["import_id"] for r in readable_imports(store, EDITOR_NGA, limit=1)] == [ids["own"]]
    for nobody in (PUBLIC, VIEWER):
        with pytest.raises(Forbidden):
            readable_imports(store, nobody)


def test_the_report_counts_only_what_its_reader_may_read(two_countries):
    store, ids = two_countries
    year = 2023  # Chad's round is in 2023, Nigeria's in 2022: both count by the end of 2023
    admin = build(store, year, principal=ADMIN).data.figures
    public = build(store, year, principal=PUBLIC).data.figures
    editor = build(store, year, principal=EDITOR_NGA).data.figures
    nga_total = 2500  # Nigeria's admin 0 figure of its latest round (41)
    tcd_total = 1200
    assert admin["idps_total"].value == nga_total + tcd_total
    for figs in (public, editor):
        assert figs["idps_total"].value == nga_total
        assert "TCD" not in figs["idps_countries"].definition
        assert not any("tchad" in s for s in figs["idps_total"].sources)
    assert any("nga_round_41" in s for s in public["idps_total"].sources)
    html = build(store, year, principal=PUBLIC).html
    assert "TCD" not in html and "tchad" not in html


def test_the_import_log_page_and_api_are_scoped(portal):
    """Over HTTP: the demo's editors see their own country's imports only; the admin sees them all."""
    admin = portal.client("admin").get("/api/v1/imports", params={"limit": 500}).json()["data"]
    editor = portal.client("editor-nga").get("/api/v1/imports", params={"limit": 500}).json()["data"]
    assert len(admin) > len(editor) > 0
    assert all("afg" not in (r["files"] or "").lower() for r in editor)
    assert any("afg" in (r["files"] or "").lower() for r in admin)
    page = portal.client("editor-nga").get("/import", headers={"accept": "text/html"})
    assert page.status_code == 200 and "afg" not in page.text.lower().split("import log", 1)[1]
