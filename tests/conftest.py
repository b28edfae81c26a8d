"""Shared fixtures: fresh stores (DuckDB always, PostgreSQL when it runs) with the P-code table loaded."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from passage.places import import_lengths, import_pcodes
from passage.settings import Settings
from passage.store import open_store

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
PCODES = SHARED / "pcodes" / "global-pcodes-adm-1-2.csv"
LENGTHS = SHARED / "pcodes" / "global-pcode-lengths.csv"
PG_URL = os.environ.get("PASSAGE_TEST_PG", "postgresql://127.0.0.1:5432/test")


def pytest_configure(config):
    if not PCODES.exists():
        raise pytest.UsageError(f"test data not found at {SHARED} (the shared data folder sits beside the project)")


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing():
    """argon2id at argon2-cffi's cheapest cost for the tests run in this process: the same algorithm and code
    path, without the half second per sign-in that the real cost takes here (what makes it safe, not what
    the tests check). `passage serve` in a process of its own (test_serve.py) keeps the real cost."""
    from argon2 import PasswordHasher, profiles

    from passage.auth import passwords

    real = passwords._hasher
    passwords._hasher = PasswordHasher.from_parameters(profiles.CHEAPEST)
    passwords._dummy_hash.cache_clear()
    yield
    passwords._hasher = real
    passwords._dummy_hash.cache_clear()


def built_once(tmp_path_factory, name: str, build: Callable[[Path], object]) -> Path:
    """The folder `name` filled by `build(folder)` once per test run: pytest-xdist's workers share one
    build (the first builds it under a lock, the others wait and read it). Returns the folder."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the run's folder, above each worker's own
    folder, done = root / name, root / f"{name}.done"
    with (root / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)  # a build that failed half-way
            folder.mkdir()
            build(folder)
            done.touch()
    return folder


def _build_places(folder: Path) -> None:
    with open_store(str(folder / "places.duckdb")) as store:
        assert import_pcodes(store, PCODES).ok
        assert import_lengths(store, LENGTHS).ok


@pytest.fixture(scope="session")
def places_template(tmp_path_factory) -> Path:
    """A DuckDB store with OCHA's P-codes and lengths, built once and copied per test."""
    return built_once(tmp_path_factory, "places-template", _build_places) / "places.duckdb"


@pytest.fixture
def store_path(places_template, tmp_path) -> Path:
    path = tmp_path / "passage.duckdb"
    shutil.copyfile(places_template, path)
    return path


@pytest.fixture
def store(store_path):
    with open_store(str(store_path)) as s:
        yield s


def missing(what: str, reason: str) -> None:
    """A service the tests need is not on this machine: skip with the reason, except under CI=true, where every
    test must run and its absence fails."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true requires {what}: {reason}")
    pytest.skip(reason)


def _pg_available() -> str | None:
    try:
        import psycopg

        with psycopg.connect(PG_URL, connect_timeout=3):
            return None
    except Exception as exc:  # noqa: BLE001 - any failure means "no server here"
        return f"PostgreSQL not reachable at {PG_URL}: {exc}".splitlines()[0]


@pytest.fixture(scope="session")
def pg_admin_url():
    reason = _pg_available()
    if reason:
        missing("PostgreSQL", reason)
    return PG_URL


def pg_schema_url(admin_url: str, schema: str) -> str:
    sep = "&" if "?" in admin_url else "?"
    return f"{admin_url}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture(scope="session")
def pg_places_template(pg_admin_url, tmp_path_factory):
    """A PostgreSQL schema with the P-codes loaded, built once per session and cloned per test (a clone is
    a few server-side statements; loading the P-codes again took seconds)."""
    import psycopg

    schema = "tmpl_" + uuid.uuid4().hex[:12]
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        settings = Settings(archive=tmp_path_factory.mktemp("pg-template") / "files")
        with open_store(pg_schema_url(pg_admin_url, schema), settings) as s:
            assert import_pcodes(s, PCODES).ok
            assert import_lengths(s, LENGTHS).ok
        yield schema
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def clone_pg_schema(conn, source: str, target: str) -> None:
    """`target` as a copy of `source`: its sequences (at their values) and tables (columns, defaults,
    constraints, indexes, rows). A store's fresh schema holds nothing else; anything else stops the clone."""
    others = conn.execute(
        "SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relkind NOT IN ('r', 'S', 'i')", [source]).fetchall()
    functions = conn.execute("SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                             "WHERE n.nspname = %s", [source]).fetchall()
    if others or functions:
        raise RuntimeError(f"clone_pg_schema copies tables and sequences only; {source} also holds "
                           f"{others + functions}")
    with conn.transaction():
        conn.execute(f"CREATE SCHEMA {target}")
        sequences = conn.execute("SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = %s",
                                 [source]).fetchall()
        for name, last in sequences:
            conn.execute(f"CREATE SEQUENCE {target}.{name} START 1")
            if last is not None:
                conn.execute("SELECT setval(%s, %s)", [f"{target}.{name}", last])
        tables = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", [source]).fetchall()
        for (name,) in tables:
            conn.execute(f"CREATE TABLE {target}.{name} (LIKE {source}.{name} INCLUDING ALL)")
            conn.execute(f"INSERT INTO {target}.{name} SELECT * FROM {source}.{name}")


@pytest.fixture
def pg_store(pg_admin_url, pg_places_template, tmp_path):
    """A fresh PostgreSQL schema per test, with the P-codes loaded; dropped afterwards."""
    import psycopg

    schema = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        clone_pg_schema(conn, pg_places_template, schema)
    s = open_store(pg_schema_url(pg_admin_url, schema), Settings(archive=tmp_path / "files"))
    try:
        yield s
    finally:
        s.close()
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["duckdb", "postgres"])
def any_store(request):
    """The same test on both backends."""
    if request.param == "duckdb":
        return request.getfixturevalue("store")
    return request.getfixturevalue("pg_store")


@pytest.fixture(scope="session")
def seeded_portal_store(tmp_path_factory):
    """The portal demo seeded once per test run: (store path, accounts)."""
    from portal import seed

    def build(folder: Path) -> None:
        accounts = seed(folder)[1]
        (folder / "accounts.json").write_text(json.dumps(accounts), encoding="utf-8")

    folder = built_once(tmp_path_factory, "seeded-portal", build)
    accounts = json.loads((folder / "accounts.json").read_text(encoding="utf-8"))
    return folder / "portal.duckdb", {user: tuple(a) for user, a in accounts.items()}


@pytest.fixture(scope="module")
def portal(seeded_portal_store, tmp_path_factory):
    """A running portal over a private copy of the seeded store (one per test module)."""
    from portal import copy_store, serve

    path, accounts = seeded_portal_store
    running = serve(str(copy_store(path, tmp_path_factory.mktemp("portal"))), accounts)
    yield running
    running.stop()


# The longest modules start first: on two workers (README: `-n 2 --dist loadfile`) the route sweep and the
# fault injections no longer run alone at the end while the other worker idles.
SLOW_FIRST = ("test_route_sweep.py", "test_faults.py", "test_browser.py", "test_schemathesis.py")


def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: 0 if item.path.name in SLOW_FIRST else 1)


CHROMIUM = Path("/usr/bin/chromium")
WAIT_MS = 30_000


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for the module: skipped when absent, except under CI=true where it must be there."""
    if not CHROMIUM.exists():
        missing("the browser tests", f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
    yield chromium
    chromium.close()
    playwright.stop()


@pytest.fixture
def open_context(browser, portal):
    """Fresh browser profiles (no cookies) in English, closed after the test."""
    contexts = []

    def make():
        ctx = browser.new_context(base_url=portal.url, locale="en-US", accept_downloads=True,
                                  viewport={"width": 1280, "height": 900})
        ctx.set_default_timeout(WAIT_MS)
        contexts.append(ctx)
        return ctx

    yield make
    for ctx in contexts:
        ctx.close()


@pytest.fixture
def page(open_context):
    return open_context().new_page()
