"""Spark as an engine: every measure of every installed pack and every export table gives, on PySpark over a
snapshot of the seeded portal store, exactly what it gives on DuckDB.

Comparison: the same column names and the same rows in the same order, values compared exactly (floats too:
no normalisation was needed; a share is a quotient of two counts on both engines). Export tables: the same
Arrow schema as well. One SparkSession (local[2]) for the module. PySpark and Java are needed: without them
the module is skipped, except under CI=true where it must run.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from cli_run import passage_cli
from conftest import missing
from passage.errors import StoreError, UsageError
from passage.measures import all_measures, compute
from passage.publish.tables import get_table, list_tables
from passage.store import open_store


def _spark_missing() -> str | None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "PySpark is not installed (pip install 'passage[spark]')"
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return "no Java (Spark needs Java 17)"
    return None


@pytest.fixture(scope="module")
def spark():
    reason = _spark_missing()
    if reason:
        missing("the Spark tests", reason)
    from passage.engines.spark import spark_session

    session = spark_session("local[2]", app_name="passage-tests", **{"spark.sql.shuffle.partitions": "2"})
    yield session
    session.stop()


@pytest.fixture(scope="module")
def duck(seeded_portal_store, tmp_path_factory):
    from portal import copy_store

    path = copy_store(seeded_portal_store[0], tmp_path_factory.mktemp("spark-duck"))
    with open_store(str(path)) as store:
        yield store


@pytest.fixture(scope="module")
def snapshot(duck, tmp_path_factory) -> Path:
    """Written by `passage snapshot`, as a user would."""
    out = tmp_path_factory.mktemp("spark-snap") / "snap"
    db = duck.url
    r = passage_cli("--db", db, "snapshot", "-o", out)
    assert r.returncode == 0, r.stderr
    assert "current records of" in r.stdout
    return out


@pytest.fixture(scope="module")
def sparked(spark, snapshot):
    from passage.engines.spark import SparkStore

    return SparkStore(snapshot, spark)


def _rows(table) -> list[tuple]:
    return [tuple(r.values()) for r in table.to_pylist()]


def _has_records(duck, form: str | None) -> bool:
    return form is None or (duck.table_exists(form) and bool(duck.scalar(f'SELECT count(*) FROM "{form}"')))


def test_every_measure_is_the_same_on_spark(duck, sparked):
    """Every measure of every installed pack whose form has records in the seeded store (a report's measures over
    its printed tables and the test pack's form have none there): the same columns and rows, in order."""
    compared, differ = [], []
    for name, m in sorted(all_measures(duck).items()):
        if not _has_records(duck, m.form):
            continue
        want, got = compute(duck, m), compute(sparked, m)
        compared.append(m.form)
        if got.column_names != want.column_names or _rows(got) != _rows(want):
            differ.append(f"{name}: {got.column_names} {_rows(got)[:3]} != {want.column_names} {_rows(want)[:3]}")
    assert not differ, "\n".join(differ)
    assert {"dtm_idps", "institutional_questionnaire", "travel_measure"} <= set(compared)
    assert len(compared) >= 50


def _form_of(name: str) -> str | None:
    from passage.plugins import available_packs, load_pack

    if name in all_measures():
        return all_measures()[name].form
    return next((load_pack(p).exports[name]["form"] for p in available_packs() if name in load_pack(p).exports), None)


def test_every_export_table_is_the_same_on_spark(duck, sparked):
    """Every export and derived table whose form is in the seeded store: the same Arrow schema and rows."""
    compared = []
    for name, _ in list_tables():
        form = _form_of(name)
        if form is not None and not duck.table_exists(form):
            continue
        want, got = get_table(duck, name).data, get_table(sparked, name).data
        assert want.num_rows > 0, name
        assert got.schema.equals(want.schema), f"{name}: {got.schema}\n!=\n{want.schema}"
        assert got.to_pylist() == want.to_pylist(), name
        compared.append(name)
    assert "hapi-idps" in compared and len(compared) >= 10


def test_snapshot_is_partitioned_by_country(snapshot, duck):
    import json

    manifest = json.loads((snapshot / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["format"] == "passage-snapshot/1"
    assert manifest["store"]["generation"] == int(duck.scalar(
        "SELECT value FROM passage_meta WHERE key = 'generation'"))
    spec = manifest["tables"]["dtm_idps"]
    assert spec["rows"] == duck.scalar("SELECT count(*) FROM dtm_idps")
    field = spec["country_field"]
    assert field == "admin0_pcode"  # the DTM dataset's country field
    countries = sorted(c for (c,) in duck.query(f'SELECT DISTINCT "{field}" FROM dtm_idps'))
    assert len(countries) > 1
    assert sorted(p.name for p in (snapshot / "dtm_idps").iterdir()) == [f"country={c}" for c in countries]
    for c in countries:
        part = pq.read_table(snapshot / "dtm_idps" / f"country={c}")
        assert set(part.column(field).to_pylist()) == {c}
        assert part.num_rows == duck.scalar(f'SELECT count(*) FROM dtm_idps WHERE "{field}" = ?', [c])
    users = pq.read_table(snapshot / "users").to_pylist()
    assert users and all(u["password_hash"] == "" and u["email"] is None for u in users)


def test_snapshot_refuses_a_folder_that_is_not_one(duck, tmp_path):
    from passage.engines.snapshot import write_snapshot

    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(UsageError) as e:
        write_snapshot(duck, tmp_path)
    assert e.value.code == "usage.snapshot-target"
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "mine"


def test_spark_store_is_read_only_and_refuses_readers_views(duck, sparked):
    from passage.auth import PUBLIC
    from passage.publish.tables import readable_table

    with pytest.raises(StoreError):
        sparked.execute("DELETE FROM places")
    with pytest.raises(UsageError) as e:
        readable_table(sparked, "hapi-idps", PUBLIC)
    assert e.value.code == "usage.engine-snapshot-current"


def test_cli_export_on_spark_is_byte_for_byte_duckdbs(duck, snapshot, sparked, tmp_path):
    on_duck, on_spark = tmp_path / "duck.csv", tmp_path / "spark.csv"
    for argv, out in ((["--db", duck.url], on_duck), (["--engine", "spark", "--snapshot", str(snapshot)], on_spark)):
        r = passage_cli(*argv, "--user", "admin", "export", "hapi-idps", "--all", "-o", out)
        assert r.returncode == 0, r.stderr
    assert on_spark.read_bytes() == on_duck.read_bytes()
    assert on_duck.read_bytes().count(b"\n") > 100


def test_cli_spark_needs_a_snapshot(snapshot):
    r = passage_cli("--engine", "spark", "export", "hapi-idps")
    assert r.returncode == 2 and "--snapshot" in r.stderr
