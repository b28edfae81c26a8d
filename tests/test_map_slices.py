"""Map indicators prepared per generation for every country and level at once (`query.indicator_slices`,
`web/slices.py`): each slice is exactly the indicator over that country and level alone, for every reader and
indicator kind; the portal prepares the public's and the admins' in the background at start and again after a
change to their records or releases (not after other changes), and answers their maps from them without
computing anything more; readers of places compute their own.

The scene: 6,000 generated DTM rows (four countries, several rounds, admin levels 1 and 2) imported and
released but for one country; then a figure edited and a record deleted (unpublished), so the public reads
older versions than the admin.
"""

from __future__ import annotations

import time

import httpx
import pyarrow.compute as pc
import pytest

from passage import query, releases
from passage.auth import PUBLIC, Principal
from passage.edits import edit_record
from passage.indicators import get_indicator
from passage.ingest import import_files
from passage.packs.dtm.demo import generate_rows_csv
from passage.records import delete_record
from portal import serve

READERS = {"public": PUBLIC, "viewer-nga": Principal("v", "viewer", frozenset({"NGA"})), "admin": Principal("a", "admin")}
INDICATORS = ["idps_latest", "idps_change", "idps_by_country", "idps", "idps_by_sex"]


def _scene(store, tmp_path):
    path = generate_rows_csv(tmp_path / "rows.csv", 6_000)
    assert import_files(store, "dtm", [path], user="test").status == "committed"
    countries = [r[0] for r in store.query("SELECT DISTINCT admin0_pcode FROM dtm_idps ORDER BY 1")]
    assert len(countries) >= 3
    for iso3 in countries[:-1]:  # the last country stays unpublished: the public does not see it
        releases.publish(store, "dtm_idps", iso3)
    (rid,) = store.query("SELECT _record_id FROM dtm_idps WHERE admin_level = 2 ORDER BY _record_id LIMIT 1")[0]
    edit_record(store, "dtm_idps", rid, {"num_present_idp_ind": 987_654})
    (gone,) = store.query("SELECT _record_id FROM dtm_idps WHERE admin_level = 1 ORDER BY _record_id LIMIT 1")[0]
    delete_record(store, "dtm_idps", gone)
    return releases.get_dataset(store, "dtm_idps"), countries


@pytest.fixture
def scene(any_store, tmp_path):
    return any_store, *_scene(any_store, tmp_path)


def test_each_slice_is_the_indicator_over_that_country_and_level_alone(scene):
    store, ds, countries = scene
    for reader, principal in READERS.items():
        for name in INDICATORS:
            slices = query.indicator_slices(store, principal, ds, name)
            # computed country by country (as the portal keeps them), the same rows
            apart = [query.indicator_slices(store, principal, ds, name, [c]) for c in countries]
            assert sorted((r for t in apart for r in t.to_pylist()), key=repr) == sorted(slices.to_pylist(), key=repr)
            for iso3 in [*countries, "ZZZ"]:
                for level in (1, 2):
                    f = query.RecordFilter(country=iso3, level=level)
                    direct = query.indicator_rows(store, principal, ds, name, f)
                    sliced = query.indicator_rows(store, principal, ds, name, f, slices=lambda n, c, s=slices: s)
                    assert sliced.column_names == direct.column_names, (reader, name)
                    assert sliced.to_pylist() == direct.to_pylist(), (reader, name, iso3, level)
    # and they are not all empty: the comparison saw figures, the public fewer than the admin
    public = query.indicator_slices(store, PUBLIC, ds, "idps_latest")
    admin = query.indicator_slices(store, READERS["admin"], ds, "idps_latest")
    assert 0 < public.num_rows < admin.num_rows


def test_slices_partition_by_country_and_level_and_other_filters_query_directly(store, tmp_path):
    ds, countries = _scene(store, tmp_path)
    ind = get_indicator("idps_latest", store)
    s = query.sliced(ind, ds)
    assert s.latest.per == [*ind.latest.per, "admin0_pcode"]  # admin_level was already there
    assert s.keys == ind.keys  # both fields were keys already: no column added
    by_country = query.sliced(get_indicator("idps_by_country", store), ds)
    assert by_country.rollup == ["admin0_pcode", "admin_level"]

    def refuse(name, country):
        raise AssertionError("a filter beyond one country and level must not read the slices")

    for f in (query.RecordFilter(country=countries[0]), query.RecordFilter(level=1),
              query.RecordFilter(country=countries[0], level=2, round=1)):
        query.indicator_rows(store, PUBLIC, ds, "idps_latest", f, slices=refuse)
    query.indicator_rows(store, PUBLIC, ds, "idps_latest", query.RecordFilter(country=countries[0], level=1),
                         group=["admin0_pcode"], slices=refuse)


def _until(test, seconds=60.0):
    deadline = time.monotonic() + seconds
    while not test():
        assert time.monotonic() < deadline, "not prepared in time"
        time.sleep(0.05)


def test_the_portal_prepares_the_public_maps_at_start_and_after_a_publish(store_path, tmp_path):
    from passage.auth.tokens import create_token
    from passage.auth.users import add_user
    from passage.store import open_store

    with open_store(str(store_path)) as st:
        ds, countries = _scene(st, tmp_path)
        add_user(st, "boss", "a long enough password 1", "admin")
        _, token = create_token(st, "boss", "test")
    running = serve(str(store_path), {})
    try:
        slices = running.server.config.app.state.portal.slices
        _until(lambda: len(slices.built) == 2)
        made = slices.computed
        n, released = len(countries), len(countries) - 1
        # the map's indicator and its other choice, for the public and admins: a query each; a chart per country
        assert made == 4 + released + n
        iso3, last = countries[0], countries[-1]
        for level in (1, 2):
            assert httpx.get(f"{running.url}/api/v1/countries/{iso3}/map?level={level}").json()["values"]
            assert httpx.get(f"{running.url}/api/v1/indicators/idps_change?country={iso3}&level={level}").json()["data"]
        assert slices.computed == made  # answered from the prepared tables: nothing computed again
        public_nga = httpx.get(f"{running.url}/api/v1/countries/{iso3}/map?level=2").json()["values"]
        admin = {"Authorization": f"Bearer {token}"}
        admin_nga = httpx.get(f"{running.url}/api/v1/countries/{iso3}/map?level=2", headers=admin).json()["values"]
        assert admin_nga != public_nga  # the admin sees the unpublished edit: the admins' own tables
        assert slices.computed == made
        health = httpx.get(f"{running.url}/api/v1/health").json()
        assert health["maps"]["ready"] and health["maps"]["prepared_for"] == {"public": health["generation"],
                                                                                "admin": health["generation"]}
        assert httpx.get(f"{running.url}/api/v1/countries/{last}/map?level=1").json()["values"] == []

        # a publish through the portal makes the last country public: prepared again for the new generation
        before = slices.built["public"]
        r = httpx.post(f"{running.url}/api/v1/datasets/dtm_idps/releases", data={"country": last}, headers=admin)
        assert r.status_code == 201, r.text
        # prepared again with no further request: the idle thread reads the generation (cache.generation_seconds)
        _until(lambda: slices.built.get("public") != before and len(set(slices.built.values())) == 1)
        shown = httpx.get(f"{running.url}/api/v1/countries/{last}/map?level=1").json()["values"]
        assert shown and slices.computed == made + 3  # the public's maps and chart; the admins' did not change
        assert slices.computed_countries == 3 * released + 3 * n + 3  # that country alone
        charts = {c: httpx.get(f"{running.url}/api/v1/countries/{c}/series").json()["data"] for c in countries}
        assert all(charts.values())
        assert slices.computed == made + 3  # the charts too came prepared
        assert shown == httpx.get(f"{running.url}/api/v1/countries/{last}/map?level=1", headers=admin).json()["values"]
    finally:
        running.stop()
    with open_store(str(store_path)) as st:  # the same figures as the library gives, computed directly
        assert shown == query.country_map(st, PUBLIC, ds, last, 1)["values"]
        assert public_nga == query.country_map(st, PUBLIC, ds, iso3, 2)["values"]
        assert charts == {c: query.country_series(st, PUBLIC, ds, c) for c in countries}


def test_a_portal_without_preparing_computes_each_slice(store_path, tmp_path):
    from passage.settings import Settings
    from passage.store import open_store

    with open_store(str(store_path)) as st:
        _, countries = _scene(st, tmp_path)
    running = serve(str(store_path), {}, settings=Settings(server={"access_log": ""}, cache={"prepare_maps": False}))
    try:
        slices = running.server.config.app.state.portal.slices
        assert httpx.get(f"{running.url}/api/v1/countries/{countries[0]}/map?level=2").json()["values"]
        assert slices.computed == 0 and slices.built == {}
        assert httpx.get(f"{running.url}/api/v1/health").json()["maps"]["ready"]
    finally:
        running.stop()


def test_a_change_elsewhere_keeps_the_tables_and_an_edit_makes_them_again(store, tmp_path):
    from passage.store.schema import bump_generation, generation
    from passage.web.slices import PreparedSlices

    ds, countries = _scene(store, tmp_path)
    prepared = PreparedSlices(store)
    prepared.start()
    try:
        n, released = len(countries), len(countries) - 1  # two map indicators; the public reads the released
        for step, change, made in [
            ("start", None, 3 * released + 3 * n),  # two maps and a chart per country, for both classes
            ("elsewhere", lambda: bump_generation(store), 0),  # the records and releases did not change
            ("edit", lambda: _edit_released(store, countries[0]), 3 + 3),  # that country, for both classes
            ("publish", lambda: releases.publish(store, "dtm_idps", countries[0]), 3),  # that country, public
        ]:
            before = prepared.computed_countries
            if change:
                change()
            gen = generation(store)
            prepared.want(gen)
            _until(lambda gen=gen: prepared.built == {"public": gen, "admin": gen})
            assert prepared.computed_countries - before == made, step
            for who in ("public", "admin"):  # the charts as the library computes them, every country
                for c in countries:
                    got = prepared.series(READERS[who], gen, ds, c)
                    assert got == query.country_series(store, READERS[who], ds, c), (step, who, c)
            get = prepared.for_reader(PUBLIC, gen, ds)
            f = query.RecordFilter(country=countries[0], level=2)
            assert query.indicator_rows(store, PUBLIC, ds, "idps_latest", f, slices=get).to_pylist() == \
                query.indicator_rows(store, PUBLIC, ds, "idps_latest", f).to_pylist(), step
        assert prepared.for_reader(READERS["viewer-nga"], gen, ds) is None
        whole = query.indicator_slices(store, READERS["admin"], ds, "idps_latest")  # one query, in key order
        for c in countries:
            admin = prepared.for_reader(READERS["admin"], gen, ds)("idps_latest", c)
            assert admin.schema == whole.schema
            assert admin.to_pylist() == whole.filter(pc.equal(whole["admin0_pcode"], c)).to_pylist(), c
        assert prepared.for_reader(PUBLIC, gen, ds)("idps", countries[0]) is None  # not a map's: not prepared
        assert prepared.for_reader(PUBLIC, gen - 1, ds)("idps_latest", countries[0]) is None  # the data moved on
        assert prepared.for_reader(PUBLIC, gen, ds)("idps_latest", countries[-1]).num_rows == 0  # not released
    finally:
        prepared.close()


def _edit_released(store, iso3):
    (rid,) = store.query("SELECT _record_id FROM dtm_idps WHERE admin0_pcode = ? AND admin_level = 2 "
                         "ORDER BY _record_id DESC LIMIT 1", [iso3])[0]
    edit_record(store, "dtm_idps", rid, {"num_present_idp_ind": 123_456})


def test_a_statement_running_in_another_thread_is_interrupted(any_store):
    """What a stopping portal does to a preparation under way: the statement stops at once and raises."""
    import threading

    other = any_store.sibling()
    long_sql = "SELECT count(*) FROM range(20000000000)" if any_store.dialect == "duckdb" else "SELECT pg_sleep(60)"
    outcome = {}

    def run():
        t0 = time.monotonic()
        try:
            other.ibis().raw_sql(long_sql).fetchall()
            outcome["raised"] = False
        except Exception:  # noqa: BLE001 - DuckDB's InterruptException, psycopg's QueryCanceled
            outcome["raised"] = True
        outcome["seconds"] = time.monotonic() - t0

    thread = threading.Thread(target=run)
    thread.start()
    time.sleep(0.5)
    other.interrupt()
    thread.join(30)
    other.close()
    assert outcome["raised"] and outcome["seconds"] < 10, outcome
