"""Exploring records (`passage.explore`): views from query strings, counts, facets and sorting over what a reader
may see, labels per language, downloads of a view, the XLSX metadata sheet and a record's history wording."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest

from passage import explore
from passage.auth.principal import PUBLIC, Principal
from passage.errors import UsageError
from passage.releases import Dataset, get_dataset
from passage.store import open_store
from xlsforms import write_xlsform

ADMIN = Principal("admin", "admin")
COUNTRY, ROUND, IDPS = "admin0_pcode", "round_number", "num_present_idp_ind"


@pytest.fixture(scope="module")
def demo(seeded_portal_store, tmp_path_factory):
    """A private copy of the seeded demo store, opened (Afghanistan's DTM data is unpublished there)."""
    from portal import copy_store

    path, _ = seeded_portal_store
    with open_store(str(copy_store(path, tmp_path_factory.mktemp("explore")))) as store:
        yield store, get_dataset(store, "dtm_idps")


def _sql_count(store, where: str = "", params: list | None = None) -> int:
    return store.scalar(f"SELECT count(*) FROM dtm_idps {where}", params or [])


def test_a_view_reads_its_query_and_writes_it_back(demo):
    store, ds = demo
    pairs = [("country", "NGA"), (f"{IDPS}__gte", "1000"), ("admin1_name", "Borno"), ("_sort_desc", IDPS),
             ("_facet", "admin2_name"), ("_col", "admin2_name"), ("_col", IDPS), ("_page", "2")]
    view = explore.parse_view(store, ds, pairs, ADMIN)
    assert view.record == (("country", "NGA"),)
    assert [(f.column, f.op, f.value) for f in view.filters] == [(IDPS, "gte", "1000"), ("admin1_name", "exact", "Borno")]
    assert (view.sort, view.desc, view.facets, view.shown, view.page) == (IDPS, True, ("admin2_name",),
                                                                          ("admin2_name", IDPS), 2)
    assert explore.parse_view(store, ds, view.params(), ADMIN) == view  # the URL holds the whole state
    assert view.filter_params() == [("country", "NGA"), (f"{IDPS}__gte", "1000"), ("admin1_name", "Borno")]
    # No facet named: the dataset's country and round; an empty one: none.
    assert explore.parse_view(store, ds, [], ADMIN).facets == (COUNTRY, ROUND)
    assert explore.parse_view(store, ds, [("_facet", "")], ADMIN).facets == ()


@pytest.mark.parametrize(("pairs", "code"), [
    ([("no_such_column__gte", "1")], None),  # not a column: not a filter (other parameters pass through)
    ([(f"{IDPS}__gte", "many")], "usage.filter"),
    ([("admin1_name__gte", "B")], "usage.filter"),  # ranges are for numbers and dates
    ([("reporting_date__lte", "31/12/2023")], "usage.filter"),
    ([("_sort", "nope")], "usage.sort"),
    ([("_facet", "nope")], "usage.facet"),
    ([("_col", "nope")], "usage.column"),
    ([("_page", "0")], "usage.page"),
    ([("_size", "100000")], "usage.page"),
    ([("level", "x")], "usage.filter"),
])
def test_bad_views_are_refused_with_a_code(demo, pairs, code):
    store, ds = demo
    if code is None:
        assert explore.parse_view(store, ds, pairs, ADMIN).filters == ()
        return
    with pytest.raises(UsageError) as err:
        explore.parse_view(store, ds, pairs, ADMIN)
    assert err.value.code == code


def test_counts_facets_and_sorting_follow_the_filters(demo):
    store, ds = demo
    view = explore.parse_view(store, ds, [(COUNTRY, "NGA"), (f"{IDPS}__gte", "5000"), ("_sort_desc", IDPS),
                                          ("_facet", ROUND), ("_size", "20")], ADMIN)
    result = explore.run(store, ADMIN, ds, view)
    expected = _sql_count(store, f"WHERE {COUNTRY} = 'NGA' AND {IDPS} >= 5000")
    assert result.total == expected and expected > 20
    values = [r[IDPS] for r in result.rows]
    assert len(values) == 20 and values == sorted(values, reverse=True) and min(values) >= 5000
    (rounds,) = result.facets
    by_sql = dict(store.query(f"SELECT {ROUND}, count(*) FROM dtm_idps WHERE {COUNTRY} = 'NGA' AND {IDPS} >= 5000 "
                              f"GROUP BY 1"))
    top = sorted(by_sql.items(), key=lambda kv: (-kv[1], kv[0]))[:explore.FACET_SIZE]
    assert [(v.value, v.count) for v in rounds.values] == top  # the most frequent first, then by value
    assert rounds.distinct == len(by_sql) and sum(by_sql.values()) == result.total
    # The next page goes on where this one stopped.
    second = explore.run(store, ADMIN, ds, explore.parse_view(store, ds, view.params() + [("_page", "2")], ADMIN))
    assert second.rows[0][IDPS] <= values[-1] and second.total == result.total


def test_a_facet_value_marks_the_filter_that_chose_it(demo):
    store, ds = demo
    view = explore.parse_view(store, ds, [(COUNTRY, "SSD"), ("_facet", COUNTRY)], ADMIN)
    (countries,) = explore.run(store, ADMIN, ds, view).facets
    assert [(v.value, v.selected) for v in countries.values] == [("SSD", True)]
    link = view.adding(ROUND, "exact", 12)
    again = explore.parse_view(store, ds, [tuple(p.split("=", 1)) for p in link[1:].split("&")], ADMIN)
    assert [(f.column, f.value) for f in again.filters] == [(COUNTRY, "SSD"), (ROUND, "12")]
    assert explore.run(store, ADMIN, ds, again).total == _sql_count(store, f"WHERE {COUNTRY} = 'SSD' AND {ROUND} = 12")


def test_an_unpublished_country_never_reaches_a_public_facet_or_count(demo):
    """Afghanistan's records are in the store but unpublished: the public's counts and facets leave them out."""
    store, ds = demo
    afghans = _sql_count(store, f"WHERE {COUNTRY} = 'AFG'")
    assert afghans > 0
    facets = [("_facet", COUNTRY), ("_facet", "admin0_name"), ("_facet", "operation")]
    public = explore.run(store, PUBLIC, ds, explore.parse_view(store, ds, facets, PUBLIC))
    admin = explore.run(store, ADMIN, ds, explore.parse_view(store, ds, facets, ADMIN))
    seen = {f.column: {v.value for v in f.values} for f in public.facets}
    assert "AFG" not in seen[COUNTRY] and "Afghanistan" not in seen["admin0_name"]
    assert not any("Afghanistan" in (v or "") for v in seen["operation"])
    assert "AFG" in {v.value for v in admin.facets[0].values}
    assert admin.total - public.total >= afghans  # at least the Afghan records are the admin's alone
    asked = explore.run(store, PUBLIC, ds, explore.parse_view(store, ds, [(COUNTRY, "AFG")], PUBLIC))
    assert asked.total == 0 and asked.rows == []
    # Nor do the dataset page's countries and rounds.
    assert "AFG" not in {c["code"] for c in explore.coverage(store, PUBLIC, ds)}
    assert "AFG" in {c["code"] for c in explore.coverage(store, ADMIN, ds)}


def test_system_columns_are_hidden_by_default_and_the_public_gets_fewer(demo):
    store, ds = demo
    result = explore.run(store, PUBLIC, ds, explore.parse_view(store, ds, [("_size", "1")], PUBLIC))
    assert result.shown and not any(c.system or c.name.startswith("_") for c in result.shown)
    public = {c.name for c in result.columns if c.system}
    editor = {c.name for c in explore.columns(store, ds, principal=Principal("e", "editor", frozenset({"NGA"})))
              if c.system}
    assert "_place_code" in public and "_user" not in public and "_source_row" not in public
    assert {"_user", "_source_row", "_import_id"} <= editor
    with pytest.raises(UsageError):
        explore.parse_view(store, ds, [("_col", "_user")], PUBLIC)


def test_labels_come_from_the_xlsform_in_the_readers_language(store, tmp_path):
    from passage.forms import compile_xlsform, install_form

    path = write_xlsform(tmp_path / "shelter.xlsx", [
        ("type", "name", "label::English (en)", "label::French (fr)", "hxl"),
        ("integer", "households", "Households", "Ménages", "#affected+hh"),
        ("text", "remark", "Remark", "", ""),
        ("integer", "survey_year", "Survey year", "Année", ""),
    ], settings={"form_id": "shelter", "version": "1", "default_language": "English (en)"})
    install_form(store, compile_xlsform(path))
    ds = Dataset(name="shelter", title="Shelter", form="shelter", pack="", visibility="public", metadata={})
    labels = {lang: {c.name: c.label for c in explore.columns(store, ds, lang)} for lang in ("en", "fr", "es")}
    assert labels["fr"]["households"] == "Ménages" and labels["en"]["households"] == "Households"
    assert labels["fr"]["remark"] == "Remark"  # no French label: the English one
    assert labels["es"]["households"] == "Households"  # no Spanish at all: English
    cols = {c.name: c for c in explore.columns(store, ds, "en")}
    assert cols["households"].hxl == "#affected+hh" and cols["households"].kind == "number"
    assert cols["survey_year"].kind == "year"  # shown without thousands separators
    assert explore.language_of("Français (fr)") == "fr" and explore.language_of("Spanish") == "es"


def test_history_tells_imports_web_edits_and_deletes_apart(demo):
    from passage import edits, records

    store, _ = demo
    rid, n = store.query(f"SELECT _record_id, {IDPS} FROM dtm_idps WHERE {COUNTRY} = 'NGA' AND admin_level = 2 "
                         f"AND {IDPS} > 0 ORDER BY _record_id LIMIT 1")[0]
    edits.edit_record(store, "dtm_idps", rid, {IDPS: str(n + 7)}, principal=ADMIN, via="web")
    edits.edit_record(store, "dtm_idps", rid, {IDPS: str(n + 8)}, principal=ADMIN)
    info = records.read_history(store, "dtm_idps", rid, ADMIN)
    told = edits.version_history(store, "dtm_idps", rid, info["versions"], info.get("files"))
    first = info["versions"][0]
    name = store.scalar("SELECT name FROM files WHERE sha256 = ?", [first["_source_sha256"]])
    assert [t["kind"] for t in told] == ["import", "edit", "edit"]
    assert told[0]["text"] == f"imported from {name} row {first['_source_row']}"
    assert told[1]["text"] == "edited on the web by admin"  # not the file's row it came from
    assert told[2]["text"] == "edited by admin"


def _client_csv(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_download_this_view_has_the_pages_rows_in_every_format(portal):
    public = portal.client()
    query = {"admin1_name": "Borno", f"{IDPS}__gte": "1000"}
    page = public.get("/datasets/dtm_idps/records", params=query)
    assert page.status_code == 200
    total = int(page.text.split('data-count="')[1].split('"')[0])
    assert total > 0
    rows = _client_csv(public.get("/download/dtm_idps", params={"format": "csv", **query}).text)
    assert len(rows) == total
    assert {r["admin1Name"] for r in rows} == {"Borno"} and min(int(r["numPresentIdpInd"]) for r in rows) >= 1000
    everything = _client_csv(public.get("/download/dtm_idps", params={"format": "csv"}).text)
    assert len(everything) > total
    assert len(public.get("/download/dtm_idps", params={"format": "json", **query}).json()) == total
    import pyarrow.parquet as pq

    assert pq.read_table(io.BytesIO(public.get("/download/dtm_idps", params={"format": "parquet", **query})
                                    .content)).num_rows == total
    hxl = list(csv.reader(io.StringIO(public.get("/download/dtm_idps", params={"format": "hxl", **query}).text)))
    assert len(hxl) == total + 2
    bad = public.get("/download/dtm_idps", params={"format": "csv", f"{IDPS}__gte": "lots"})
    assert bad.status_code == 400 and "usage.filter" in bad.text


def test_the_xlsx_download_carries_a_metadata_sheet(portal):
    public = portal.client()
    query = {"country": "NGA", ROUND: "46"}
    r = public.get("/download/dtm_idps", params={"format": "xlsx", **query})
    assert r.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(r.content), read_only=True)
    assert book.sheetnames[0] == "dtm_idps" and book.sheetnames[-1] == "metadata"
    data = list(book["dtm_idps"].iter_rows(values_only=True))
    meta = {row[0]: row[1:] for row in book["metadata"].iter_rows(values_only=True) if row and row[0]}
    assert meta["Dataset"][0] == "Internally displaced persons: DTM mobility tracking"
    assert meta["Licence"][0].startswith("Creative Commons")
    assert "NGA" in meta["Filters"][0] and "46" in meta["Filters"][0]
    assert meta["Rows"][0] == len(data) - 1 > 0
    assert meta["Generated at"][0].endswith("UTC")
    assert meta["numPresentIdpInd"][0] == "IDPs present (individuals)"
    header, tags = list(csv.reader(io.StringIO(public.get("/download/dtm_idps", params={"format": "hxl"}).text)))[:2]
    assert [(c, meta[c][1] or "") for c in data[0]] == list(zip(header, tags))  # each column with its HXL tag


def test_the_records_page_without_javascript(portal):
    """The filter form folds into one filter and a redirect; facets and sorting are links; numbers are grouped
    in the reader's language."""
    public = portal.client()
    r = public.get("/datasets/dtm_idps/records", params={"_add_column": IDPS, "_add_op": "gte", "_add_value": "1000",
                                                         "_facet": COUNTRY})
    assert r.status_code == 303
    assert r.headers["location"] == f"/datasets/dtm_idps/records?_facet={COUNTRY}&{IDPS}__gte=1000"
    page = public.get(r.headers["location"])
    assert 'data-facet="admin0_pcode"' in page.text and "IDPs present (individuals) ≥ 1000" in page.text
    assert f'href="/datasets/dtm_idps/records?{IDPS}__gte=1000&amp;{COUNTRY}=NGA&amp;_facet={COUNTRY}"' in page.text
    total = int(page.text.split('data-count="')[1].split('"')[0])
    assert total >= 1000  # large enough to show a separator
    assert f"{total:,} records" in page.text
    public.cookies.set("passage_lang", "fr")
    fr = public.get(r.headers["location"])
    grouped = f"{total:,}".replace(",", "\u202f")
    assert grouped in fr.text or f"{total:,}".replace(",", "\u00a0") in fr.text


def test_dataset_pages_show_a_preview_sizes_and_coverage(portal):
    public = portal.client()
    page = public.get("/datasets/dtm_idps")
    assert page.status_code == 200
    assert 'id="preview"' in page.text and 'id="last-updated"' in page.text
    assert page.text.count('class="muted small file-size"') >= 5  # every format of the records table
    coverage = page.text.split('id="coverage"')[1].split("</table>")[0]
    assert 'data-country="NGA"' in coverage and 'data-country="AFG"' not in coverage
    assert "round=46" in coverage
    listing = public.get("/datasets")
    assert 'data-records="' in listing.text
