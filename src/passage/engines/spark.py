"""Spark as an engine: the measures and export tables of every pack, run on PySpark through Ibis.

`SparkStore` reads a Parquet snapshot (`passage.engines.snapshot`, `passage snapshot -o DIR`) into a
SparkSession and answers what measures (`passage.measures`) and exports (`passage.publish.tables`) ask of a
store, and nothing else:

- `ibis()`: Ibis's PySpark backend over the session; each snapshot table is a temporary view of its name. A
  form's record table (`rec_<form>`, every version) is not in a snapshot: a reader's view of published
  releases needs it, so on Spark only every current record is read (admins' exports and measures);
- `query` / `scalar` / `columns` / `arrow`: the store's portable SQL (DuckDB's spelling, `?` parameters),
  translated to Spark SQL by sqlglot; `information_schema.columns` and `.tables` answer from the manifest, with
  the source store's SQL types, so an export is typed exactly as on the store it came from;
- `dialect` is "spark"; `table_exists` answers for the snapshot's tables.

It is read-only: anything that would write (an import, an edit, a release) raises a `StoreError`.

    >>> store = SparkStore("snap")                                   # doctest: +SKIP
    >>> compute(store, "households_by_district")                                # passage.measures: a pyarrow Table
    >>> get_table(store, "site_visits").data                           # passage.publish.tables

The session is `local[2]` unless one is given (`spark_session(master=...)`, or spark-submit's own).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from passage.engines.snapshot import MANIFEST, read_manifest
from passage.errors import StoreError, UsageError
from passage.settings import DEFAULTS, Settings
from passage.store.base import Store

COLUMNS_VIEW = "passage_information_schema_columns"
TABLES_VIEW = "passage_information_schema_tables"


def spark_session(master: str | None = "local[2]", app_name: str = "passage", **conf: str) -> Any:
    """A SparkSession for Passage: UTC, a private warehouse folder (nothing written under ./spark-warehouse),
    few shuffle partitions (the default 200 costs seconds per query on small data), no web UI or console bars.
    `master=None` keeps what spark-submit set; `conf` adds settings (`spark.driver.memory="4g"`)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise UsageError("the Spark engine needs PySpark: pip install 'passage[spark]' (and Java 17)",
                         code="usage.engine") from None
    settings = {"spark.sql.session.timeZone": "UTC", "spark.ui.enabled": "false",
                "spark.ui.showConsoleProgress": "false", "spark.sql.shuffle.partitions": "4",
                "spark.sql.warehouse.dir": tempfile.mkdtemp(prefix="passage-spark-warehouse-"),
                **{k.replace("_", "."): v for k, v in conf.items() if not k.startswith("spark.")},
                **{k: v for k, v in conf.items() if k.startswith("spark.")}}
    builder = SparkSession.builder.appName(app_name)
    if master:
        builder = builder.master(master)
    for key, value in settings.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def _active_session() -> Any:
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        return None  # spark_session says what to install
    return SparkSession.getActiveSession()


@lru_cache(maxsize=256)
def to_spark_sql(sql: str) -> str:
    """The store's portable SQL (DuckDB's spelling) as Spark SQL; `information_schema.columns` / `.tables` read
    the snapshot's catalogue views."""
    import sqlglot
    from sqlglot import exp

    def catalogue(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Table) and node.db.lower() == "information_schema":
            view = {"columns": COLUMNS_VIEW, "tables": TABLES_VIEW}.get(node.name.lower())
            if view is None:
                raise StoreError(f"a Spark snapshot has no information_schema.{node.name}")
            return exp.Table(this=exp.to_identifier(view), alias=node.args.get("alias"))
        return node

    return sqlglot.parse_one(sql, read="duckdb").transform(catalogue).sql(dialect="spark")


@lru_cache(maxsize=1)
def _snapshot_backend() -> type:
    """Ibis's PySpark backend, refusing a form's record table (every version) with a coded error: a snapshot
    holds current records, so a reader's view of published releases (which needs the versions released) is
    not computed from it, rather than computed wrong."""
    import ibis
    from ibis.backends.pyspark import Backend

    ibis.pyspark.connect  # noqa: B018  (the first use of ibis.pyspark registers the backend's options)

    class SnapshotBackend(Backend):
        passage_versions: frozenset[str] = frozenset()

        def table(self, name: str, /, *, database: Any = None) -> Any:
            if name in self.passage_versions:
                raise UsageError(
                    "a snapshot holds current records only, not the versions a release shows: on --engine spark "
                    "read every current record (--user ADMIN --all), or run on the store for a reader's view",
                    code="usage.engine-snapshot-current")
            return super().table(name, database=database)

    return SnapshotBackend


class SparkStore(Store):
    """A read-only store over a snapshot folder (a local path, or a URL Spark reads: s3a://, hdfs://, ...)."""

    dialect = "spark"

    def __init__(self, snapshot: str | Path, session: Any = None, *, settings: Settings = DEFAULTS,
                 master: str | None = "local[2]"):
        """`session`: a SparkSession to use (kept open on close); else one of its own on `master` (stopped on
        close; None: the master spark-submit gave)."""
        self.url = str(snapshot).rstrip("/")
        self.settings = settings
        self._owns_session = False
        if session is None:  # a session of its own, unless one runs in this process already (kept open then)
            session = _active_session()
            if session is None:
                session, self._owns_session = spark_session(master), True
        self.session = session
        self.manifest = read_manifest(self._read_text(f"{self.url}/{MANIFEST}"), self.url)
        self._ibis: Any = None
        self._types: dict[str, list[list[str]]] = {}
        self._register()

    def _read_text(self, path: str) -> str:
        if "://" not in path or path.startswith("file://"):
            local = Path(path.removeprefix("file://"))
            if not local.is_file():
                raise UsageError(f"no snapshot at {path.rsplit('/', 1)[0]} (no {MANIFEST}): write one with "
                                 "`passage snapshot -o DIR`", code="usage.snapshot")
            return local.read_text(encoding="utf-8")
        rows = self.session.read.text(path, wholetext=True).collect()  # object storage: through Spark's readers
        return rows[0][0] if rows else ""

    @property
    def views(self) -> list[str]:
        """The names of the temporary views over this snapshot (the manifest's tables and their record tables)."""
        return list(self._types)

    def _register(self) -> None:
        from pyspark.sql import Row

        schema = self.session.sql("SELECT current_database()").collect()[0][0]
        for name, spec in self.manifest["tables"].items():
            df = self.session.read.option("recursiveFileLookup", "true").parquet(f"{self.url}/{name}")
            df.createOrReplaceTempView(name)
            self._types[name] = spec["columns"]
            if spec.get("record_table"):  # its types (exports are typed by it); its rows are not in a snapshot
                self._types[spec["record_table"]] = spec.get("record_table_columns") or spec["columns"]
        columns = [Row(table_schema=schema, table_name=t, column_name=c, data_type=d, ordinal_position=i + 1)
                   for t, cols in self._types.items() for i, (c, d) in enumerate(cols)]
        tables = [Row(table_schema=schema, table_name=t, table_type="VIEW") for t in self._types]
        ddl = ("table_schema STRING, table_name STRING, column_name STRING, data_type STRING, "
               "ordinal_position INT")
        self.session.createDataFrame(columns, ddl).createOrReplaceTempView(COLUMNS_VIEW)
        self.session.createDataFrame(tables, "table_schema STRING, table_name STRING, table_type STRING"
                                     ).createOrReplaceTempView(TABLES_VIEW)

    # ---- what measures and exports read ----------------------------------------------------------------

    def ibis(self) -> Any:
        if self._ibis is None:
            self._ibis = _snapshot_backend()().connect(self.session)  # as ibis.pyspark.connect, on the subclass
            self._ibis.passage_versions = frozenset(
                spec["record_table"] for spec in self.manifest["tables"].values() if spec.get("record_table"))
        return self._ibis

    def table_exists(self, name: str) -> bool:
        return name in self._types

    def _df(self, sql: str, params: Sequence[Any]) -> Any:
        return self.session.sql(to_spark_sql(sql), args=list(params) or None)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        return [tuple(r) for r in self._df(sql, params).collect()]

    def columns(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[str], list[tuple]]:
        df = self._df(sql, params)
        return list(df.columns), [tuple(r) for r in df.collect()]

    def arrow(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._df(sql, params).toArrow()

    # ---- read-only --------------------------------------------------------------------------------------

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        raise StoreError(f"the Spark engine reads a snapshot ({self.url}) and changes nothing: run this on the "
                         "store itself (without --engine spark)", code="store.read-only")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        yield  # nothing is written, and a snapshot does not change under its readers

    def recover(self) -> None:
        return None

    def engine(self) -> Any:
        raise StoreError("the Spark engine has no validation engine: imports run on the store",
                         code="store.read-only")

    def load_from_engine(self, engine: Any, select_sql: str, table: str, columns: list[str]) -> int:
        return self.engine()

    def sibling(self) -> SparkStore:
        return self

    @property
    def archive_dir(self) -> Path:
        raise StoreError("a Spark snapshot holds no archived files", code="store.read-only")

    def close(self) -> None:
        if self._owns_session and self.session is not None:
            self.session.stop()
            self.session = None
