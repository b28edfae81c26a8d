"""What a reader sees, as the cold path reads it: `readable()` as a temporary view per reader class, a records page
read in two statements on DuckDB, SQL text that never names a view, and PostgreSQL's indexes for the record tables.

The scene: Nigeria and Chad imported and released, then a Nigerian figure edited and a Nigerian record deleted
(neither published), so the public reads one record in an older version than the current one.
"""

from __future__ import annotations

import pyarrow.compute as pc
import pytest

from dtm_rows import NGA, TCD, api_rows, write_csv
from passage import access, query, releases
from passage.access import inline, readable, readable_page, readable_sql
from passage.auth import PUBLIC, Principal
from passage.edits import edit_record
from passage.ingest import import_files
from passage.publish.tables import readable_names, readable_table
from passage.records import delete_record

READERS = {
    "public": PUBLIC,
    "viewer-tcd": Principal("v", "viewer", frozenset({"TCD"})),
    "editor-nga": Principal("e", "editor", frozenset({"NGA"})),
    "admin": Principal("a", "admin"),
}
EDITED = 987_654  # a figure no released number can be mistaken for


@pytest.fixture
def scene(any_store, tmp_path):
    return _scene(any_store, tmp_path)


@pytest.fixture
def duckdb_scene(store, tmp_path):
    return _scene(store, tmp_path)


def _scene(store, tmp_path):
    files = [write_csv(tmp_path / "nga.csv", api_rows("NGA", NGA)), write_csv(tmp_path / "tcd.csv", api_rows("TCD", TCD))]
    assert import_files(store, "dtm", files, user="test").status == "committed"
    for iso3 in ("NGA", "TCD"):
        releases.publish(store, "dtm_idps", iso3)
    found = sorted(store.query("SELECT _record_id, num_present_idp_ind FROM dtm_idps WHERE admin0_pcode = 'NGA' "
                               "AND admin_level = 2"))
    (edited, released), (deleted, _) = found[:2]
    edit_record(store, "dtm_idps", edited, {"num_present_idp_ind": EDITED})
    delete_record(store, "dtm_idps", deleted)
    return store, releases.get_dataset(store, "dtm_idps"), (edited, deleted, released)


def rows(table) -> list[dict]:
    return sorted(table.to_pyarrow().to_pylist(), key=lambda r: r["_record_id"])


def sql_of(store, table) -> str:
    return store.ibis().compile(table)


def test_readable_is_a_view_that_shows_what_its_relation_shows(scene):
    store, ds, (edited, deleted, released) = scene
    for name, reader in READERS.items():
        t = readable(store, reader, ds)
        if not reader.is_admin:
            assert "passage_readable_" in sql_of(store, t), name
            assert "passage_readable_" not in sql_of(store, inline(t)), name
        seen = rows(t)
        assert seen == rows(inline(t)), name
        assert all(r["_current"] for r in seen), name
        value = {r["_record_id"]: r["num_present_idp_ind"] for r in seen}
        # released readers see the figure and the record as they were released; the editor and admins as now
        assert value[edited] == (EDITED if name in ("editor-nga", "admin") else released), name
        assert (deleted in value) == (name not in ("editor-nga", "admin")), name
    # a second call reuses the handle's view: the same table, no new view
    assert readable(store, PUBLIC, ds).equals(readable(store, PUBLIC, ds))


@pytest.mark.parametrize("country,level", [("NGA", 1), ("NGA", 2), ("TCD", 2), ("SSD", 1)])
def test_country_and_level_on_the_view_give_the_rows_of_filtering_after(scene, country, level):
    store, ds, _ = scene
    for name, reader in READERS.items():
        narrowed = query.filtered(store, reader, ds, query.RecordFilter(country=country, level=level))
        everything = inline(readable(store, reader, ds)).to_pyarrow()
        after = everything.filter(pc.and_(pc.equal(everything["admin0_pcode"], country),
                                          pc.equal(everything["admin_level"], level)))
        assert rows(narrowed) == sorted(after.to_pylist(), key=lambda r: r["_record_id"]), name


def test_readable_parts_are_readable_in_pieces_with_no_record_in_two(scene):
    store, ds, _ = scene
    for name, reader in READERS.items():
        parts = access.readable_parts(store, reader, ds)
        assert len(parts) == (1 if reader.is_admin else 3 if reader.role == "editor" else 2), name
        ids = [r["_record_id"] for p in parts for r in p.to_pyarrow().to_pylist()]
        assert len(ids) == len(set(ids)), name  # a top-N of each part then of their union is the union's top-N
        assert sorted((r for p in parts for r in p.to_pyarrow().to_pylist()), key=lambda r: r["_record_id"]) == \
            rows(readable(store, reader, ds)), name


def test_a_new_release_is_read_through_a_new_view(scene):
    store, ds, (edited, _, _) = scene
    before = readable(store, PUBLIC, ds)
    releases.publish(store, "dtm_idps", "NGA")
    after = readable(store, PUBLIC, ds)
    assert before.op().name != after.op().name
    assert {r["_record_id"]: r["num_present_idp_ind"] for r in rows(after)}[edited] == EDITED


def test_sql_text_names_no_view_and_runs_on_the_stores_own_connection(scene):
    store, ds, _ = scene
    for name, reader in READERS.items():
        sql = readable_sql(store, reader, ds)
        assert "passage_readable_" not in sql, name
        # PostgreSQL: the store's own connection, which never sees the Ibis session's views
        assert store.scalar(f"SELECT count(*) FROM ({sql}) AS r") == len(rows(readable(store, reader, ds))), name
    tables = [n for n, _ in readable_names(store, PUBLIC) if n in (*ds.tables, *ds.indicators)]
    assert tables
    for table in tables:  # the dataset's published tables as the public reads them (some from SQL text)
        assert readable_table(store, table, PUBLIC).data.num_rows, table


def test_inside_a_duckdb_transaction_readable_is_the_relation_itself(store, tmp_path):
    assert import_files(store, "dtm", [write_csv(tmp_path / "nga.csv", api_rows("NGA", NGA))],
                        user="test").status == "committed"
    releases.publish(store, "dtm_idps", "NGA")
    ds = releases.get_dataset(store, "dtm_idps")
    with store.transaction():  # a rollback would drop a view made here
        t = readable(store, PUBLIC, ds)
        assert "passage_readable_" not in sql_of(store, t)
        n = len(rows(t))
    assert n == len(rows(readable(store, PUBLIC, ds))) == len(NGA)


def test_a_handle_keeps_a_bounded_number_of_views(store, tmp_path, monkeypatch):
    monkeypatch.setattr(access, "VIEWS", 2)
    assert import_files(store, "dtm", [write_csv(tmp_path / "nga.csv", api_rows("NGA", NGA))],
                        user="test").status == "committed"
    ds = releases.get_dataset(store, "dtm_idps")
    for _ in range(4):  # each release is a new view of the public's
        releases.publish(store, "dtm_idps", "NGA")
        assert len(rows(readable(store, PUBLIC, ds))) == len(NGA)
    views = store.scalar("SELECT count(*) FROM duckdb_views() WHERE temporary AND view_name LIKE 'passage_readable_%'")
    assert views == 2


def one_statement(store, reader, ds, where, limit):
    return where(inline(readable(store, reader, ds))).order_by("_record_id").limit(limit).to_pyarrow()


@pytest.mark.parametrize("country,level", [(None, None), ("NGA", 2), ("NGA", 1), ("TCD", None), ("SSD", 1)])
def test_a_records_page_is_what_one_statement_reads(scene, country, level):
    store, ds, _ = scene
    f = query.RecordFilter(country=country, level=level)
    for name, reader in READERS.items():
        after = None
        pages = []
        while True:  # every page, two records at a time, by cursor
            page, nxt = query.list_records(store, reader, ds, f, cursor=after, limit=2)

            def where(t, after=after):
                t = query.narrow(t, ds, f)
                return t.filter(t._record_id > query.decode_cursor(after)) if after else t

            expected = one_statement(store, reader, ds, where, 2)
            assert page.equals(expected), (name, after)
            pages.append(page)
            if nxt is None:
                break
            after = nxt
        got = [r for p in pages for r in p.to_pylist()]
        assert got == rows(query.filtered(store, reader, ds, f)), name
        assert all(r["_current"] for r in got), name  # an older version shown is shown as current


def test_a_page_whose_rows_moved_between_the_two_statements_is_read_again(duckdb_scene, monkeypatch):
    """The second statement finds the page's rows by DuckDB row number (DuckDB's only); rows it does not find as
    the first statement saw them (another version in their place) are not answered: the page is read in one
    statement."""
    store, ds, _ = duckdb_scene
    real = store.arrow
    monkeypatch.setattr(store, "arrow", lambda sql, params=(): real(sql, [list(reversed(params[0]))[:1]]))

    def where(t):
        return query.narrow(t, ds, query.RecordFilter(country="NGA"))

    page = readable_page(store, PUBLIC, ds, where, 3)
    assert page.equals(one_statement(store, PUBLIC, ds, where, 3)) and page.num_rows == 3


def test_postgresql_record_tables_get_the_readers_indexes(pg_store, tmp_path):
    assert import_files(pg_store, "dtm", [write_csv(tmp_path / "nga.csv", api_rows("NGA", NGA))],
                        user="test").status == "committed"
    made = releases.index_datasets(pg_store)
    assert {"rec_dtm_idps_country_level", "rec_dtm_idps_changed"} <= set(made)
    defs = dict(pg_store.query("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
                               "AND tablename = 'rec_dtm_idps'"))
    assert "(admin0_pcode, admin_level, _record_id) WHERE _current" in defs["rec_dtm_idps_country_level"]
    assert "(_created_at) WHERE _current" in defs["rec_dtm_idps_changed"]
    assert not any(n.startswith("rec_dtm_idps") for n in releases.index_datasets(pg_store))  # made once


def test_duckdb_stores_get_no_indexes(store):
    assert releases.index_datasets(store) == []
