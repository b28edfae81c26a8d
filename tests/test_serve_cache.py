"""The API's answers kept per data generation x URL x reader class: ETag and 304, a publish seen at once, no
answer crossing reader classes, and a cold answer computed once however many readers ask at the same moment
(threads, asyncio, and 50 clients over HTTP on PostgreSQL right after a publish).

The seeded demo has Nigeria, South Sudan and Chad released and Afghanistan unpublished.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import httpx
import pytest

from passage.web.cache import Generation, ResultCache
from portal import csrf_of

RECORDS = "/api/v1/datasets/dtm_idps/records"


def state(running):
    """The running portal's `Portal` (its caches and counters)."""
    return running.server.config.app.state.portal



# ---- the cache itself --------------------------------------------------------------------------------------

def test_a_missing_value_is_computed_once_for_threads_waiting_on_it():
    cache = ResultCache(10)
    started, release = threading.Event(), threading.Event()
    calls = []

    def compute():
        calls.append(1)
        started.set()
        release.wait()
        return {"value": 42}

    with ThreadPoolExecutor(8) as pool:
        first = pool.submit(cache.get_at, 7, ("k",), compute)
        started.wait()
        others = [pool.submit(cache.get_at, 7, ("k",), compute) for _ in range(7)]
        release.set()
        results = [first.result()] + [f.result() for f in others]
    assert calls == [1] and cache.computed == 1
    assert all(r is results[0] for r in results)
    assert cache.get_at(8, ("k",), lambda: "new") == "new" and cache.computed == 2  # a new generation: new value
    assert cache.peek(7, ("k",)) == (False, None)  # the older generation went at once


def test_a_missing_value_is_computed_once_for_coroutines_waiting_on_it():
    cache = ResultCache(10)
    release = threading.Event()
    calls = []

    def compute():
        calls.append(1)
        release.wait()
        return "answer"

    async def main():
        tasks = [asyncio.create_task(cache.aget(1, ("k",), compute)) for _ in range(20)]
        await asyncio.sleep(0)
        while not calls:  # the first has started computing: the others join it
            await asyncio.sleep(0.01)
        release.set()
        return await asyncio.gather(*tasks)

    assert asyncio.run(main()) == ["answer"] * 20
    assert calls == [1] and cache.computed == 1


def test_errors_reach_every_waiter_and_are_not_kept():
    cache = ResultCache(10)

    def fail():
        raise ValueError("no")

    with pytest.raises(ValueError):
        cache.get_at(1, ("k",), fail)
    assert cache.peek(1, ("k",)) == (False, None) and len(cache) == 0
    assert cache.get_at(1, ("k",), lambda: "fine") == "fine"


def test_the_generation_is_read_again_after_a_change_and_not_before():
    value = [5]
    gen = Generation(lambda: value[0], seconds=3600)
    assert gen.current() == 5 and gen.reads == 1
    value[0] = 6
    assert gen.current() == 5 and gen.reads == 1  # kept in memory
    gen.changed()
    assert gen.current() == 6 and gen.reads == 2
    assert Generation(lambda: value[0], seconds=0).current() == 6


# ---- over HTTP -------------------------------------------------------------------------------------------

def test_etag_and_304_from_the_kept_answer(portal):
    client, kept = portal.client(), state(portal).responses
    url = "/api/v1/countries/NGA/map?level=1"
    first = client.get(url)
    assert first.status_code == 200 and first.headers["etag"].startswith('"')
    computed = kept.computed
    again = client.get(url)
    assert again.content == first.content and again.headers["etag"] == first.headers["etag"]
    not_modified = client.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert not_modified.status_code == 304 and not_modified.content == b""
    assert not_modified.headers["etag"] == first.headers["etag"] and "content-type" not in not_modified.headers
    assert not_modified.headers["x-content-type-options"] == "nosniff"  # the security headers on every answer
    assert kept.computed == computed  # both answered from the kept answer
    other = client.get(url, headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200 and other.content == first.content
    csv = client.get(url + "&format=csv")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.headers["etag"] != first.headers["etag"] and kept.computed == computed + 1


def test_errors_are_not_kept(portal):
    client, kept = portal.client(), state(portal).responses
    for _ in range(2):
        computed = kept.computed
        r = client.get("/api/v1/countries/NGA/map?level=1&indicator=no_such_indicator")
        assert r.status_code in (400, 404) and r.json()["error"]["code"]
        assert kept.computed == computed  # nothing was kept, so nothing counted


def test_a_revoked_token_is_refused_at_once_though_its_principal_was_kept(portal):
    nga = portal.client("editor-nga")
    csrf = csrf_of(nga)
    made = nga.post("/api/v1/tokens", data={"name": "kept"}, headers={"X-CSRF-Token": csrf}).json()
    bearer = httpx.Client(base_url=portal.url, headers={"Authorization": f"Bearer {made['token']}"})
    url = "/api/v1/countries/NGA/map?level=1"
    assert bearer.get("/api/v1/me").json()["user"] == "editor-nga"
    assert bearer.get(url).status_code == 200  # a kept answer for the token's reader class
    assert nga.delete(f"/api/v1/tokens/{made['token_id']}", headers={"X-CSRF-Token": csrf}).status_code == 204
    for path in ("/api/v1/me", url):
        r = bearer.get(path)
        assert r.status_code == 401 and r.json()["error"]["code"] == "auth.bad_token", path


def _value(client: httpx.Client, record: dict) -> int | None:
    """The record's figure as this client reads it through the records API."""
    rows = client.get(RECORDS, params={"country": "NGA", "level": 2, "place": record["_place_code"],
                                       "limit": 1000}).json()["data"]
    return {r["_record_id"]: r["num_present_idp_ind"] for r in rows}.get(record["_record_id"])


def test_a_scoped_editor_never_gets_the_publics_answer_and_a_publish_shows_at_once(portal):
    """Last in this module: it edits a Nigerian record and publishes Nigeria."""
    public, admin, nga = portal.client(), portal.client("admin"), portal.client("editor-nga")
    rows = admin.get(RECORDS, params={"country": "NGA", "level": 2, "limit": 5}).json()["data"]
    target = rows[0]
    kept = state(portal).responses

    before = _value(public, target)
    assert before is not None and _value(public, target) == before  # the second one from the kept answer
    computed = kept.computed
    assert _value(nga, target) == before  # nothing changed yet: same figure...
    assert kept.computed == computed + 1  # ...but the editor's own answer, never the public's

    r = nga.patch(f"/api/v1/records/dtm_idps/{quote(target['_record_id'], safe='')}",
                  json={"num_present_idp_ind": target["num_present_idp_ind"] + 1000},
                  headers={"X-CSRF-Token": csrf_of(nga)})
    assert r.status_code == 200, r.text
    assert _value(nga, target) == before + 1000  # the editor reads current records in their scope
    assert _value(public, target) == before  # the public reads the release: the edit is not released yet
    assert _value(portal.client("editor-tcd"), target) == before  # another editor's class, released data too

    r = nga.post("/api/v1/datasets/dtm_idps/releases", data={"country": "NGA"}, headers={"X-CSRF-Token": csrf_of(nga)})
    assert r.status_code == 201, r.text
    assert _value(public, target) == before + 1000  # at once, from the very next request


# ---- a stampede after a publish, on PostgreSQL -----------------------------------------------------------

@pytest.fixture(scope="module")
def pg_portal(pg_admin_url, tmp_path_factory):
    """A fresh PostgreSQL schema seeded with the portal demo and served; dropped afterwards."""
    import psycopg

    from conftest import pg_schema_url
    from passage.demo_portal import seed_portal
    from passage.settings import Settings
    from passage.store import open_store
    from portal import serve

    work = tmp_path_factory.mktemp("pg-cache")
    schema = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    url = pg_schema_url(pg_admin_url, schema)
    settings = Settings(archive=work / "files", server={"access_log": ""})
    try:
        with open_store(url, settings) as store:
            accounts = seed_portal(store, work / "demo")["accounts"]
        running = serve(url, accounts, settings=settings)
        try:
            yield running
        finally:
            running.stop()
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.mark.postgres
def test_fifty_cold_requests_after_a_publish_all_answer_and_compute_once(pg_portal):
    admin = pg_portal.client("admin")
    url = "/api/v1/indicators/idps_latest?country=SSD&level=2"
    assert httpx.get(pg_portal.url + url).status_code == 200
    r = admin.post("/api/v1/datasets/dtm_idps/releases", data={"country": "SSD"},
                   headers={"X-CSRF-Token": csrf_of(admin)})
    assert r.status_code == 201, r.text
    portal = state(pg_portal)
    answers, results = portal.responses.computed, portal.cache.computed
    gate = threading.Barrier(50)

    def one(_):
        with httpx.Client(base_url=pg_portal.url, timeout=120) as c:
            gate.wait()
            return c.get(url)

    with ThreadPoolExecutor(50) as pool:
        got = list(pool.map(one, range(50)))
    assert [r.status_code for r in got] == [200] * 50
    assert len({r.content for r in got}) == 1 and got[0].json()["data"]
    assert portal.responses.computed == answers + 1  # one answer encoded...
    assert portal.cache.computed == results + 1  # ...over one indicator query
