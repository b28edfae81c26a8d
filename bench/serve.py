"""Portal and API speed under concurrent readers, with Datasette serving the same data as the baseline.

    .venv/bin/python bench/serve.py --rows 10000000 --out docs/performance.md
    .venv/bin/python bench/serve.py --rows 10000000 --backend postgresql --out docs/performance.md
    .venv/bin/python bench/serve.py --rows 100000 --quick      # checks the script in a minute or two
    .venv/bin/python bench/serve.py --rows 1000000 --cold-only --repeat 3   # cold requests only, a few minutes

What it does:

1. Data: the DTM-shaped CSV of `bench/run.py` (`bench/data/dtm-N.csv`, gitignored; generated when missing)
   imported with full validation into a DuckDB store (`bench/data/work/serve-N.duckdb`, OCHA's P-codes and
   the DTM pack loaded first), released for every country (`passage.releases.publish`: the public reads
   released data), with an admin user and an API token. Reused on later runs (`--rebuild` to redo).
   `--backend postgresql` imports the same CSV the same way into a schema `bench_serve_N` of `--pg-url`.
2. Baseline data: the current records (the columns the queries need) and the places table copied once
   to SQLite (`serve-N.sqlite`) with an index on (admin0_pcode, admin_level), as a Datasette deployment
   of this table would have it.
3. Servers, each a subprocess on loopback: `passage --db STORE serve --no-demo` (uvicorn, one process)
   and `datasette serve -i FILE` (immutable: read-only data, as Datasette recommends for publishing).
4. Cold requests: after each (re)start, the first request for every distinct URL, one at a time.
   `--cold-only` runs only these (and the same-answer check) and prints each request's time.
5. Load: an asyncio HTTP/1.1 keep-alive client (raw streams, so the client's own cost stays small on a
   shared machine) runs N requests at concurrency 1, 10 and 50, bounded by a request count and a time
   budget, cycling over countries x admin levels 1 and 2, after warm-up requests. Systems alternate
   and each (endpoint, system, concurrency) keeps its best run (lowest p95) of `--repeat`.

6. A publish, then a stampede: after each round's warm runs, the admin publishes a country over the API
   (every cached answer is then stale) and `--stampede-clients` clients send one cold request each at once,
   over every endpoint x country x level; timeouts and errors are counted (`--stampede-timeout`).

Endpoints: the country page's data (`/api/v1/countries/{ISO3}/map?level=L`), the indicator API
(`/api/v1/indicators/idps_latest?country={ISO3}&level=L`) and the records API
(`/api/v1/datasets/dtm_idps/records?country={ISO3}&level=L&limit=100`), as the public and as an admin with a
bearer token; Datasette runs the equivalent SQL through its JSON API (`/bench.json?sql=...&_shape=array`).

Not part of the test suite. Writes the section between `<!-- serve:start -->` and `<!-- serve:end -->`
of `--out` (`serve-postgresql:start`/`end` with `--backend postgresql`; the rest of docs/performance.md is
`bench/run.py`'s) and the raw figures as JSON to bench/out/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
VENV_BIN = Path(sys.executable).parent
START, END = "<!-- serve:start -->", "<!-- serve:end -->"
TARGET_P95_MS = 100.0
TARGET_CLIENTS = 50
LEVELS = (1, 2)
ADMIN = "bench-admin"
ENDPOINTS = ("map", "indicator", "records")
PG_URL = os.environ.get("PASSAGE_TEST_PG", "postgresql://127.0.0.1:5432/test")

sys.path.insert(0, str(BENCH))
import run as bench_run  # noqa: I001  (bench/run.py: P-code files, the machine, formatting)


# ============================================================================================ data


def _remove_store(path: Path) -> None:
    for p in (path, path.with_name(path.name + ".wal")):
        p.unlink(missing_ok=True)
    shutil.rmtree(path.with_name(path.stem + ".files"), ignore_errors=True)


def _pg_schema_url(base: str, schema: str) -> str:
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"


def _fresh_pg_schema(base: str, schema: str) -> str:
    import psycopg

    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.execute(f"CREATE SCHEMA {schema}")
    return _pg_schema_url(base, schema)


def _pg_bytes(base: str, schema: str) -> int:
    import psycopg

    with psycopg.connect(base, autocommit=True) as conn:
        return int(conn.execute("SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s "
                                "AND c.relkind IN ('r', 'm')", [schema]).fetchone()[0])


def build_store(csv: Path, target: Path | str) -> dict:
    """Import the CSV into a fresh store (a DuckDB path, or a PostgreSQL URL of a fresh schema), release every
    country, add an admin and an API token."""
    from passage import auth, releases
    from passage.ingest import import_files
    from passage.places import import_lengths, import_pcodes
    from passage.plugins import install_pack
    from passage.store import open_store

    if isinstance(target, Path):
        _remove_store(target)
    pcodes, lengths = bench_run._pcode_files()
    out: dict = {}
    with open_store(str(target)) as store:
        import_pcodes(store, pcodes)
        import_lengths(store, lengths)
        install_pack(store, "dtm")
        t0 = time.perf_counter()
        result = import_files(store, "dtm", [csv], user="bench")
        out["import_seconds"] = time.perf_counter() - t0
        if result.status != "committed":
            raise SystemExit(f"import of {csv} did not commit: {result.status}")
        countries = [r[0] for r in store.query("SELECT DISTINCT admin0_pcode FROM dtm_idps ORDER BY 1")]
        for iso3 in countries:
            releases.publish(store, "dtm_idps", iso3, user="bench", note="benchmark release")
        auth.add_user(store, ADMIN, "bench-" + os.urandom(12).hex(), "admin")  # as the store's operator
        _, secret = auth.create_token(store, ADMIN, "bench")
        out.update(records=store.scalar("SELECT count(*) FROM dtm_idps"), countries=countries, token=secret)
        store.execute("CHECKPOINT" if store.dialect == "duckdb" else "ANALYZE")
    return out


SQLITE_COLUMNS = ["admin0_pcode", "admin_level", "_place_code", "operation", "assessment_type", "round_number",
                  "reporting_date", "num_present_idp_ind"]


def export_sqlite(store_path: Path, target: Path, batch: int = 200_000) -> dict:
    """The current records (the columns the queries use) and the places, to SQLite for Datasette."""
    import duckdb

    target.unlink(missing_ok=True)
    t0 = time.perf_counter()
    src = duckdb.connect(str(store_path), read_only=True)
    db = sqlite3.connect(target)
    db.execute("PRAGMA journal_mode = OFF")
    db.execute("PRAGMA synchronous = OFF")
    db.execute("CREATE TABLE dtm_idps (admin0_pcode TEXT, admin_level INTEGER, _place_code TEXT, operation TEXT, "
               "assessment_type TEXT, round_number INTEGER, reporting_date TEXT, num_present_idp_ind INTEGER)")
    cols = ", ".join(SQLITE_COLUMNS[:6]) + ", strftime(reporting_date, '%Y-%m-%d') AS reporting_date, " \
        "num_present_idp_ind"
    reader = src.sql(f"SELECT {cols} FROM dtm_idps").to_arrow_reader(batch)
    insert = f"INSERT INTO dtm_idps VALUES ({', '.join('?' for _ in SQLITE_COLUMNS)})"
    n = 0
    for rb in reader:
        db.executemany(insert, zip(*(rb.column(i).to_pylist() for i in range(rb.num_columns))))
        n += rb.num_rows
    db.execute("CREATE TABLE places (code TEXT PRIMARY KEY, name TEXT, country_code TEXT, level INTEGER)")
    db.executemany("INSERT INTO places VALUES (?, ?, ?, ?)",
                   src.execute("SELECT code, name, country_code, level FROM places").fetchall())
    db.execute("CREATE INDEX dtm_idps_country_level ON dtm_idps (admin0_pcode, admin_level)")
    db.execute("CREATE INDEX places_country_level ON places (country_code, level)")
    db.commit()
    db.execute("ANALYZE")
    db.commit()
    db.close()
    src.close()
    return {"sqlite_rows": n, "export_seconds": time.perf_counter() - t0, "sqlite_bytes": target.stat().st_size}


def prepare(a) -> dict:
    """The store and the SQLite copy for `a.rows` rows, built once and reused (their facts in a JSON beside).
    With `--backend postgresql` the DuckDB store and the SQLite copy are made first (the copy is read from
    DuckDB), then the same CSV is imported into the PostgreSQL schema."""
    from passage.packs.dtm.demo import generate_rows_csv

    if a.backend == "postgresql":
        facts = prepare(argparse.Namespace(**{**vars(a), "backend": "duckdb", "rebuild": False}))
        schema = f"bench_serve_{a.rows}"
        facts_file = a.work / f"serve-pg-{a.rows}.json"
        url = _pg_schema_url(a.pg_url, schema)
        if facts_file.exists() and not a.rebuild:
            pg = json.loads(facts_file.read_text())
            print(f"reusing the PostgreSQL schema {schema}")
        else:
            print(f"importing {facts['csv']} into PostgreSQL schema {schema} ...", flush=True)
            pg = build_store(Path(facts["csv"]), _fresh_pg_schema(a.pg_url, schema))
            print(f"  {pg['records']:,} records in {pg['import_seconds']:.1f} s", flush=True)
            facts_file.write_text(json.dumps(pg, indent=1))
            facts_file.chmod(0o600)  # holds the benchmark admin's token
        return {**facts, **pg, "store": url, "store_bytes": _pg_bytes(a.pg_url, schema), "pg_schema": schema}

    a.work.mkdir(parents=True, exist_ok=True)
    csv = a.data / f"dtm-{a.rows}.csv"
    store, lite, facts_file = (a.work / f"serve-{a.rows}.duckdb", a.work / f"serve-{a.rows}.sqlite",
                               a.work / f"serve-{a.rows}.json")
    if facts_file.exists() and store.exists() and lite.exists() and not a.rebuild:
        facts = json.loads(facts_file.read_text())
        print(f"reusing {store} and {lite}")
    else:
        facts = {}
        if not csv.exists():
            t0 = time.perf_counter()
            generate_rows_csv(csv, a.rows)
            facts["generate_seconds"] = time.perf_counter() - t0
            print(f"generated {csv} in {facts['generate_seconds']:.1f} s")
        print(f"importing {csv} into {store} ...", flush=True)
        facts.update(build_store(csv, store))
        print(f"  {facts['records']:,} records in {facts['import_seconds']:.1f} s; exporting to {lite} ...",
              flush=True)
        facts.update(export_sqlite(store, lite))
        print(f"  {facts['sqlite_rows']:,} rows in {facts['export_seconds']:.1f} s")
        facts_file.write_text(json.dumps(facts, indent=1))
        facts_file.chmod(0o600)  # holds the benchmark admin's token
    facts.update(store=str(store), sqlite=str(lite), csv=str(csv),
                 store_bytes=bench_run._du(store), sqlite_bytes=lite.stat().st_size)
    return facts


# ============================================================================================ the queries

# Datasette's side: the same figures with the same grouping as the `idps_latest` indicator (sum per place,
# operation, assessment type, round and date; then the latest round per place, operation and assessment type).
_LATEST = """with agg as (
  select admin_level, _place_code, admin0_pcode, operation, assessment_type, round_number, reporting_date,
         sum(num_present_idp_ind) as value
  from dtm_idps where admin0_pcode = :country and admin_level = cast(:level as integer)
  group by admin_level, _place_code, admin0_pcode, operation, assessment_type, round_number, reporting_date
), ranked as (
  select *, row_number() over (partition by admin_level, _place_code, operation, assessment_type
                               order by round_number desc, reporting_date desc) as rank_
  from agg
)"""
INDICATOR_SQL = _LATEST + """
select admin_level, _place_code, admin0_pcode, operation, assessment_type, round_number, reporting_date, value
from ranked where rank_ = 1
order by admin_level, _place_code, admin0_pcode, operation, assessment_type, round_number, reporting_date"""
MAP_SQL = _LATEST + """
select r._place_code as code, coalesce(p.name, r._place_code) as name, sum(r.value) as value,
       min(r.reporting_date) as date_from, max(r.reporting_date) as date_to
from ranked r left join places p on p.code = r._place_code
where r.rank_ = 1
group by r._place_code order by value desc"""


RECORDS_SQL = """select * from dtm_idps where admin0_pcode = :country and admin_level = cast(:level as integer)
order by rowid limit 100"""
RECORDS_LIMIT = 100


def passage_path(endpoint: str, iso3: str, level: int) -> str:
    if endpoint == "map":
        return f"/api/v1/countries/{iso3}/map?level={level}"
    if endpoint == "records":
        return f"/api/v1/datasets/dtm_idps/records?country={iso3}&level={level}&limit={RECORDS_LIMIT}"
    return f"/api/v1/indicators/idps_latest?country={iso3}&level={level}"


def datasette_path(db_name: str, endpoint: str, iso3: str, level: int) -> str:
    sql = {"map": MAP_SQL, "indicator": INDICATOR_SQL, "records": RECORDS_SQL}[endpoint]
    q = urllib.parse.urlencode({"sql": sql, "country": iso3, "level": level, "_shape": "array"})
    return f"/{db_name}.json?{q}"


# ============================================================================================ servers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A server subprocess on loopback, started fresh (so its first requests are cold) and stopped by pid."""

    def __init__(self, name: str, cmd: list[str], ready_path: str, log: Path):
        self.name, self.cmd, self.ready_path, self.log = name, cmd, ready_path, log
        self.proc: subprocess.Popen | None = None
        self.port = 0

    def start(self, timeout: float = 120) -> float:
        self.port = free_port()
        cmd = [c.replace("{port}", str(self.port)) for c in self.cmd]
        t0 = time.perf_counter()
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=self.log.parent)
        while time.perf_counter() - t0 < timeout:
            if self.proc.poll() is not None:
                raise SystemExit(f"{self.name} exited with {self.proc.returncode}; see {self.log}")
            try:
                status, _ = asyncio.run(_one(self.port, self.ready_path))
                if status == 200:
                    return time.perf_counter() - t0
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise SystemExit(f"{self.name} did not answer within {timeout} s; see {self.log}")

    def cpu_seconds(self) -> float:
        """User + system CPU of the server process so far (Linux /proc)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
        return 0.0

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


# ============================================================================================ the client


class Connection:
    """One HTTP/1.1 keep-alive connection over asyncio streams: GET, read the whole body, nothing else."""

    def __init__(self, port: int):
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        reused = self.writer is not None
        try:
            status_line = await self._send(path, headers)
        except (ConnectionError, OSError):
            status_line = b""
        if not status_line and reused:  # the server closed an idle keep-alive connection: reconnect once
            self.close()
            status_line = await self._send(path, headers)
        if not status_line:
            raise ConnectionError("connection closed")
        status = int(status_line.split()[1])
        length, chunked, close = None, False, False
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value:
                chunked = True
            elif name == "connection" and value == "close":
                close = True
        if chunked:
            parts = []
            while True:
                size = int((await self.reader.readline()).split(b";")[0], 16)
                if size == 0:
                    await self.reader.readline()
                    break
                parts.append(await self.reader.readexactly(size))
                await self.reader.readexactly(2)
            body = b"".join(parts)
        elif length is not None:
            body = await self.reader.readexactly(length)
        else:
            body = await self.reader.read()
            close = True
        if close:
            self.close()
        return status, body

    async def _send(self, path: str, headers: dict[str, str] | None) -> bytes:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nAccept: application/json\r\n"
                          f"{extra}\r\n".encode("latin-1"))
        await self.writer.drain()
        return await self.reader.readline()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def _one(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    conn = Connection(port)
    try:
        return await conn.get(path, headers)
    finally:
        conn.close()


def wait_prepared(port: int, timeout: float = 600) -> float:
    """Seconds until the portal's `/api/v1/health` says the public maps are prepared for the current data."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        status, body = asyncio.run(_one(port, "/api/v1/health"))
        if status == 200 and json.loads(body)["maps"]["ready"]:
            return time.perf_counter() - t0
        time.sleep(0.1)
    raise SystemExit(f"the public maps were not prepared within {timeout} s")


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of a sorted list."""
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, int(-(-p * len(sorted_values) // 100)) - 1))
    return sorted_values[k]


async def _drive(conns: list[Connection], targets: list[tuple[str, dict]], max_requests: int, seconds: float,
                 timeout: float) -> dict:
    """Every connection sends requests back to back until the count or the time budget is used up."""
    latencies: list[float] = []
    errors: dict[str, int] = {}
    issued = 0
    offset = random.randrange(len(targets))
    t0 = time.perf_counter()
    deadline = t0 + seconds

    async def worker(conn: Connection) -> None:
        nonlocal issued
        while issued < max_requests and time.perf_counter() < deadline:
            path, headers = targets[(offset + issued) % len(targets)]
            issued += 1
            t = time.perf_counter()
            try:
                status, _ = await asyncio.wait_for(conn.get(path, headers), timeout)
            except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
                conn.close()
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                continue
            if status == 200:
                latencies.append(time.perf_counter() - t)
            else:
                errors[str(status)] = errors.get(str(status), 0) + 1

    await asyncio.gather(*(worker(c) for c in conns))
    elapsed = time.perf_counter() - t0
    lat = sorted(latencies)
    ms = [x * 1000 for x in lat]
    return {"requests": len(lat), "errors": errors, "seconds": elapsed,
            "throughput": len(lat) / elapsed if elapsed else 0.0,
            "p50": percentile(ms, 50), "p95": percentile(ms, 95), "p99": percentile(ms, 99),
            "mean": statistics.fmean(ms) if ms else float("nan"), "max": ms[-1] if ms else float("nan")}


def measure(server: Server, targets: list[tuple[str, dict]], concurrency: int, a) -> dict:
    """Warm-up (not recorded) then the measured run, on the same keep-alive connections."""

    async def go() -> dict:
        conns = [Connection(server.port) for _ in range(concurrency)]
        try:
            await _drive(conns, targets, max(len(targets), concurrency), a.warm_seconds, a.timeout)
            cpu0 = server.cpu_seconds()
            res = await _drive(conns, targets, a.requests, a.seconds, a.timeout)
            res["server_cpu_ms"] = (server.cpu_seconds() - cpu0) * 1000 / max(1, res["requests"])
            return res
        finally:
            for c in conns:
                c.close()

    return asyncio.run(go())


# ============================================================================================ the runs


def _same_answers(endpoint: str, passage_body: bytes, datasette_body: bytes) -> bool:
    p, d = json.loads(passage_body), json.loads(datasette_body)
    if not isinstance(d, list):  # Datasette answered an error (e.g. its SQL time limit)
        return False
    if endpoint == "records":  # a page of 100 records each (Passage's by record id, SQLite's by rowid)
        return len(p["data"]) == len(d) == RECORDS_LIMIT
    if endpoint == "map":
        return ({v["code"]: (v["name"], v["value"]) for v in p["values"]}
                == {v["code"]: (v["name"], v["value"]) for v in d})
    keys = ("_place_code", "operation", "assessment_type", "round_number", "value")
    return ({tuple(r[k] for k in keys) + (str(r["reporting_date"])[:10],) for r in p["data"]}
            == {tuple(r[k] for k in keys) + (str(r["reporting_date"])[:10],) for r in d})


def publish_over_api(port: int, token: str, country: str) -> float:
    """The admin publishes `country` through the API (every cached answer is stale afterwards); seconds taken."""
    body = urllib.parse.urlencode({"country": country, "note": "benchmark: publish then stampede"}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/datasets/dtm_idps/releases", data=body,
                                 method="POST", headers={"Authorization": f"Bearer {token}",
                                                         "Content-Type": "application/x-www-form-urlencoded"})
    t = time.perf_counter()
    with urllib.request.urlopen(req, timeout=600) as r:
        if r.status != 201:
            raise SystemExit(f"publish answered {r.status}")
    return time.perf_counter() - t


def stampede(port: int, targets: list[tuple[str, dict]], clients: int, timeout: float) -> dict:
    """`clients` requests at once, one per client on its own connection, cycling over `targets`."""

    async def one(i: int) -> tuple[str, float]:
        path, headers = targets[i % len(targets)]
        t = time.perf_counter()
        try:
            status, _ = await asyncio.wait_for(_one(port, path, headers), timeout)
            outcome = str(status)
        except TimeoutError:
            outcome = "timeout"
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
            outcome = type(exc).__name__
        return outcome, (time.perf_counter() - t) * 1000

    async def go() -> list[tuple[str, float]]:
        return await asyncio.gather(*(one(i) for i in range(clients)))

    got = asyncio.run(go())
    outcomes: dict[str, int] = {}
    for outcome, _ in got:
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    ok = sorted(ms for outcome, ms in got if outcome == "200")
    return {"clients": clients, "urls": len({p for p, _ in targets}), "outcomes": outcomes, "ok": len(ok),
            "p50": percentile(ok, 50), "p95": percentile(ok, 95), "max": ok[-1] if ok else float("nan"),
            "timeout_s": timeout}


def run(a) -> dict:
    facts = prepare(a)
    token = facts.pop("token")
    store = facts["store"] if a.backend == "postgresql" else str(Path(facts["store"]).resolve())
    lite = Path(facts["sqlite"]).resolve()
    db_name = lite.stem
    passage = Server("passage", [str(VENV_BIN / "passage"), "--db", store, "serve", "--no-demo",
                                 "--port", "{port}"], "/api/v1/me", a.work / f"serve-passage-{a.backend}.log")
    datasette = Server("datasette", [str(VENV_BIN / "datasette"), "serve", "-i", str(lite), "--port", "{port}",
                                     "--setting", "sql_time_limit_ms", "60000",
                                     "--setting", "max_returned_rows", "100000"],
                       "/-/versions.json", a.work / "serve-datasette.log")
    grid = [(c, lv) for c in facts["countries"] for lv in a.levels]
    cold_grid = [(c, lv) for c in facts["countries"] for lv in a.cold_levels]
    who_headers = {"public": {}, "admin": {"Authorization": f"Bearer {token}"}}
    endpoints = tuple(a.endpoints)

    def targets(system: str, endpoint: str, who: str, cells: list[tuple[str, int]] = grid) -> list[tuple[str, dict]]:
        if system == "datasette":
            return [(datasette_path(db_name, endpoint, c, lv), {}) for c, lv in cells]
        return [(passage_path(endpoint, c, lv), who_headers[who]) for c, lv in cells]

    runs: dict[str, list[dict]] = {}
    colds: list[dict] = []
    answers: dict[str, bool] = {}
    stampedes: list[dict] = []
    starts: dict[str, list[float]] = {"passage": [], "datasette": []}
    prepared: list[float] = []  # seconds from the start until the public maps were prepared
    rss: dict[str, float] = {"passage": 0.0, "datasette": 0.0}
    try:
        for r in range(a.repeat):
            print(f"round {r + 1} of {a.repeat}", flush=True)
            for srv in (passage, datasette):
                starts[srv.name].append(srv.start())
            # the public maps' indicators are prepared in the background after a start (passage.web.slices):
            # the cold requests are sent once /api/v1/health says they are ready, and the time it took is shown
            prepared.append(starts["passage"][-1] + wait_prepared(passage.port))
            # cold: the first request per distinct URL after the restart (passage: public, then admin)
            bodies: dict[tuple, bytes] = {}
            for system, srv in (("passage", passage), ("datasette", datasette)):
                who_list = ("public", "admin") if system == "passage" else ("public",)
                first = True
                for who in who_list:
                    for c, lv in cold_grid:
                        for ep in endpoints:
                            path, headers = targets(system, ep, who, [(c, lv)])[0]
                            t = time.perf_counter()
                            status, body = asyncio.run(_one(srv.port, path, headers))
                            ms = (time.perf_counter() - t) * 1000
                            colds.append({"round": r, "system": system, "who": who, "endpoint": ep, "country": c,
                                          "level": lv, "ms": ms, "status": status, "first": first})
                            first = False
                            if who == "public":
                                bodies[(system, ep, c, lv)] = body
                print(f"  cold {system}: " + ", ".join(f"{x['ms']:.0f}" for x in colds if x["round"] == r
                                                       and x["system"] == system) + " ms", flush=True)
            if r == 0:
                for c, lv in cold_grid:
                    for ep in endpoints:
                        answers[f"{ep} {c} admin{lv}"] = _same_answers(ep, bodies[("passage", ep, c, lv)],
                                                                       bodies[("datasette", ep, c, lv)])
                print("  same answers:", all(answers.values()), {k: v for k, v in answers.items() if not v})
            for conc in ([] if a.cold_only else a.concurrency):
                for ep in endpoints:
                    order = [("passage", "public"), ("datasette", "public"), ("passage", "admin")]
                    if r % 2:
                        order.reverse()
                    for system, who in order:
                        srv = passage if system == "passage" else datasette
                        load = os.getloadavg()[0]
                        res = measure(srv, targets(system, ep, who), conc, a)
                        res.update(round=r, load_before=load)
                        rss[system] = max(rss[system], srv.rss_mb())
                        key = f"{ep}|{who}|{system}|{conc}"
                        runs.setdefault(key, []).append(res)
                        print(f"  {ep:<9} {system:<9} {who:<6} c={conc:<3} n={res['requests']:<5} "
                              f"p50 {res['p50']:8.1f} ms  p95 {res['p95']:8.1f} ms  p99 {res['p99']:8.1f} ms  "
                              f"{res['throughput']:7.1f} req/s  cpu {res['server_cpu_ms']:.1f} ms/req  "
                              f"errors {sum(res['errors'].values())}  load {load:.2f}", flush=True)
            if a.stampede_clients and not a.cold_only:
                t_publish = time.perf_counter()
                seconds = publish_over_api(passage.port, token, facts["countries"][0])
                crowd = [t for ep in endpoints for who in ("public", "admin") for t in targets("passage", ep, who)]
                res = stampede(passage.port, crowd, a.stampede_clients, a.stampede_timeout)
                wait_prepared(passage.port)
                res.update(round=r, publish_s=seconds, load_before=os.getloadavg()[0],
                           prepared_s=time.perf_counter() - t_publish)
                stampedes.append(res)
                print(f"  stampede after a publish ({seconds:.1f} s): {res['outcomes']}, p50 {res['p50']:.0f} ms, "
                      f"p95 {res['p95']:.0f} ms, max {res['max']:.0f} ms", flush=True)
            for srv in (passage, datasette):
                srv.stop()
    finally:
        passage.stop()
        datasette.stop()
    best = {k: min(v, key=lambda x: (x["p95"] != x["p95"], x["p95"])) | {"all_p95": [x["p95"] for x in v]}
            for k, v in runs.items()}
    return {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "machine": bench_run.machine(),
            "datasette": _version("datasette"), "uvicorn": _version("uvicorn"), "facts": facts,
            "settings": {k: getattr(a, k) for k in ("requests", "seconds", "warm_seconds", "repeat", "concurrency",
                                                   "levels", "cold_levels", "quick", "cold_only")},
            "grid": grid, "cold_grid": cold_grid, "runs": runs, "best": best, "cold": colds, "answers": answers,
            "starts": starts, "prepared": prepared, "rss_mb": rss, "backend": a.backend, "endpoints": list(endpoints),
            "stampedes": stampedes}


def _version(dist: str) -> str:
    import importlib.metadata as md

    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return "?"


# ============================================================================================ report

NOTES = "<!-- serve:notes (hand-written; kept when the section is regenerated) -->"
LABEL = {"map": "country page data `/api/v1/countries/{ISO3}/map`",
         "indicator": "indicator API `/api/v1/indicators/idps_latest`",
         "records": "records API `/api/v1/datasets/dtm_idps/records` (100 per page)"}
TARGET_COLD_S = 0.5


def markers(backend: str) -> tuple[str, str, str]:
    """The section's start, end and notes markers: DuckDB's (`serve:`) and PostgreSQL's (`serve-postgresql:`)."""
    if backend == "duckdb":
        return START, END, NOTES
    return (START.replace("serve:", f"serve-{backend}:"), END.replace("serve:", f"serve-{backend}:"),
            NOTES.replace("serve:", f"serve-{backend}:"))


def _ms(x: float) -> str:
    if math.isnan(x):
        return "–"
    return f"{x:,.1f} ms" if x < 100 else f"{x:,.0f} ms"


def _ratio(p: float, d: float) -> str:
    if not d or math.isnan(d) or math.isnan(p):
        return "–"
    return f"{p / d:.4f}" if p / d < 0.01 else f"{p / d:.3f}"


def _cold_table(cold: list[dict], endpoints: list[str]) -> list[str]:
    """Cold requests per system, endpoint and caller: min, median, max (the server's first request apart)."""
    L = ["| system | endpoint | caller | requests | min | median | max | server's first request |",
         "|---|---|---|---:|---:|---:|---:|---:|"]
    for system, who in (("passage", "public"), ("passage", "admin"), ("datasette", "public")):
        for ep in endpoints:
            xs = [x for x in cold if x["system"] == system and x["who"] == who and x["endpoint"] == ep]
            rest = sorted(x["ms"] for x in xs if not x["first"])
            if not rest:
                continue
            first = [x["ms"] for x in xs if x["first"]]
            L.append(f"| {system} | {ep} | {who if system == 'passage' else '–'} | {len(rest)} | {_ms(rest[0])} | "
                     f"{_ms(statistics.median(rest))} | {_ms(rest[-1])} | {_ms(min(first)) if first else ''} |")
    return L


def cold_report(res: dict) -> str:
    """`--cold-only`: the cold table, then every cold request of Passage (slowest first) against the target."""
    L = [f"cold requests, {res['facts']['records']:,} records on {res.get('backend', 'duckdb')} ({res['date']})", ""]
    L += _cold_table(res["cold"], res.get("endpoints", list(ENDPOINTS)))
    L += ["", f"Passage's cold requests, slowest first (target {TARGET_COLD_S:g} s; * = the server's first):"]
    for x in sorted((x for x in res["cold"] if x["system"] == "passage"), key=lambda x: -x["ms"]):
        L.append(f"  {x['ms']:8.0f} ms  {x['who']:<6} {x['endpoint']:<9} {x['country']} admin{x['level']}  "
                 f"round {x['round'] + 1}{' *' if x['first'] else ''}")
    public = [x["ms"] for x in res["cold"] if x["system"] == "passage" and x["who"] == "public" and not x["first"]]
    if public:
        L.append(f"public: median {_ms(statistics.median(public))}, slowest {_ms(max(public))}, "
                 f"{sum(ms >= TARGET_COLD_S * 1000 for ms in public)} of {len(public)} at or over the target")
    return "\n".join(L)


def section(res: dict, notes: str = "") -> str:
    m, f, st = res["machine"], res["facts"], res["settings"]
    backend = res.get("backend", "duckdb")
    endpoints = res.get("endpoints", ["map", "indicator"])
    start, end, notes_marker = markers(backend)
    pg = backend == "postgresql"
    L: list[str] = []
    w = L.append
    best = res["best"]
    conc = st["concurrency"]
    w(start)
    w("## Portal and API under concurrent readers" + (", on PostgreSQL" if pg else ""))
    w("")
    w(f"Latency of the portal's data endpoints ({', '.join(endpoints)}) under "
      f"{', '.join(str(c) for c in conc[:-1])} and {conc[-1]} concurrent clients,")
    w(f"with Passage's store on {'PostgreSQL' if pg else 'DuckDB'}, against Datasette")
    w("serving the same records from SQLite with the equivalent SQL, measured in the same run. Generated by")
    w("`bench/serve.py` (this section only; the rest of the file is `bench/run.py`'s); rerun with")
    w("")
    w("```")
    w(f".venv/bin/python bench/serve.py --rows {f['records']}{' --backend postgresql' if pg else ''} "
      "--out docs/performance.md")
    w("```")
    w("")
    w("### Machine and data")
    w("")
    w(f"- Date: {res['date']}")
    w(f"- CPU: {m['cpu']}, {m['cores']} cores; RAM {m['ram_gb']} GB; {m['os']}")
    w(f"- Python {m['python']}, DuckDB {m['duckdb']}, Ibis {m['ibis']}, uvicorn {res['uvicorn']}; "
      f"Datasette {res['datasette']}, SQLite {sqlite3.sqlite_version}")
    w("- The load generator and both servers share the machine's cores (and the machine is shared with other")
    w("  work): every figure includes the client's own CPU use; the 1-minute load average before each run is in")
    w("  the raw JSON (bench/out/).")
    w(f"- {f['records']:,} DTM records (`bench/run.py`'s generated CSV, imported with full validation) over "
      f"{len(f['countries'])} countries ({', '.join(f['countries'])}), each released, so the public reads them; "
      f"store {bench_run._mb(f['store_bytes'])}{' (PostgreSQL schema ' + f.get('pg_schema', '') + ')' if pg else ''}"
      f". Datasette's SQLite copy (8 columns of the current records, "
      f"places, index on (admin0_pcode, admin_level)): {bench_run._mb(f['sqlite_bytes'])}.")
    w("")
    w("### Method")
    w("")
    w("- **Passage**: `passage --db STORE serve --no-demo` (uvicorn, one process; the endpoints run in its")
    w(f"  thread pool, {'one PostgreSQL connection' if pg else 'one DuckDB cursor'} per thread; its access log "
      "goes to")
    w("  the server's log file). The public reads released records (the release-cutoff")
    w("  relation of `passage.access.readable`); the admin sends `Authorization: Bearer psg_…` (the token's")
    w("  principal is kept 10 s) and reads the current records.")
    w("- **Datasette**: `datasette serve -i FILE --setting sql_time_limit_ms 60000 --setting max_returned_rows")
    w("  100000` (immutable mode, default 3 SQL threads), queried through `/db.json?sql=…&_shape=array` with")
    w("  the `idps_latest` grouping in SQL (sum per place, operation, assessment type, round and date; latest")
    w("  round per place, operation and assessment type by `row_number()`; for the map also summed per place")
    w("  and joined to the place names). Both systems return the same figures: "
      + ("**yes**" if all(res["answers"].values()) else "**NO**")
      + f" (checked for every URL: {len(res['answers'])} comparisons).")
    w(f"- **Requests** cycle over {len(res['grid'])} URLs per endpoint: every country x admin levels "
      f"{', '.join(str(x) for x in st['levels'])}. The client is asyncio with one HTTP/1.1 keep-alive connection "
      "per simulated client and no `If-None-Match` (every response is a full body). Cold requests also cover "
      f"admin level{'s' if len(st.get('cold_levels', [])) > 1 else ''} "
      f"{', '.join(str(x) for x in st.get('cold_levels', st['levels']))}. Each run: warm-up requests")
    w(f"  (every URL at least once, not recorded), then up to {st['requests']:,} requests or {st['seconds']:g} s,")
    w("  whichever comes first (requests in flight at the deadline complete and count). Latency is from")
    w("  sending the request to the last byte of the body; p50/p95/p99 are nearest-rank over all requests of")
    w(f"  the run. Systems alternate; each line is the best run (lowest p95) of {st['repeat']}; both servers are")
    w("  restarted before every round.")
    w("- **Caching**: Passage keeps each answer encoded (body and ETag) per store generation (every import, edit")
    w("  and release starts a new one), URL and reader class, with the generation in memory (re-read at most once")
    w("  a second); after the first request for a URL a warm request is access resolution and a copy of the")
    w("  stored body. Datasette has no result cache and runs the SQL every time. The cost of computing an answer")
    w("  is in the cold table below; the stampede table measures a publish followed by many cold requests.")
    w("")
    w("### Results (warm)")
    for ep in endpoints:
        w("")
        w(f"**{LABEL[ep]}**")
        w("")
        w("| system | caller | clients | requests | p50 | p95 | p99 | throughput | server CPU per request | errors |")
        w("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for system, who in (("passage", "public"), ("passage", "admin"), ("datasette", "public")):
            for c in conc:
                b = best.get(f"{ep}|{who}|{system}|{c}")
                if not b:
                    continue
                who_label = "admin (token)" if who == "admin" else ("public" if system == "passage" else "–")
                w(f"| {system} | {who_label} | {c} | {b['requests']:,} | {_ms(b['p50'])} | {_ms(b['p95'])} | "
                  f"{_ms(b['p99'])} | {b['throughput']:,.1f} req/s | {_ms(b['server_cpu_ms'])} | "
                  f"{sum(b['errors'].values())} |")
    w("")
    w("**Passage against Datasette** (same run; below 1 means Passage is faster):")
    w("")
    w("| endpoint | clients | p50 passage/datasette | p95 passage/datasette | throughput datasette/passage |")
    w("|---|---:|---:|---:|---:|")
    for ep in endpoints:
        for c in conc:
            p, d = best.get(f"{ep}|public|passage|{c}"), best.get(f"{ep}|public|datasette|{c}")
            if not p or not d:
                continue
            tput = _ratio(d["throughput"], p["throughput"])
            w(f"| {ep} | {c} | {_ratio(p['p50'], d['p50'])} | {_ratio(p['p95'], d['p95'])} | {tput} |")
    w("")
    w("### Cold: the first request per URL after a restart")
    w("")
    w("One request at a time, right after the servers were started, in every round (figures over all rounds;")
    w("each server's very first request also")
    w("opens its store handle and, for Passage, its Ibis connection; it is shown separately). The operating")
    w("system's file cache is warm for both (the files were just read or written).")
    w("")
    cold = res["cold"]
    L.extend(_cold_table(cold, endpoints))
    by_level: dict[tuple, list[float]] = {}
    for x in cold:
        if not x["first"] and x["who"] == "public":
            by_level.setdefault((x["system"], x["endpoint"], x["level"]), []).append(x["ms"])
    w("")
    w("Median cold latency by admin level (public):")
    w("")
    w("| endpoint | level | passage | datasette | passage/datasette |")
    w("|---|---:|---:|---:|---:|")
    for ep in endpoints:
        for lv in st.get("cold_levels", st["levels"]):
            p, d = by_level.get(("passage", ep, lv)), by_level.get(("datasette", ep, lv))
            if p and d:
                pm, dm = statistics.median(p), statistics.median(d)
                w(f"| {ep} | {lv} | {_ms(pm)} | {_ms(dm)} | {_ratio(pm, dm)} |")
    w("")
    prep = res.get("prepared") or []
    w(f"Server start-up until the first answer: Passage {', '.join(f'{s:.1f} s' for s in res['starts']['passage'])}"
      + (f" (until its public maps were prepared, `/api/v1/health`: {', '.join(f'{s:.1f} s' for s in prep)})"
         if prep else "") + "; "
      f"Datasette {', '.join(f'{s:.1f} s' for s in res['starts']['datasette'])}. Peak resident memory during the "
      f"runs: Passage {res['rss_mb']['passage']:,.0f} MB, Datasette {res['rss_mb']['datasette']:,.0f} MB.")
    w("")
    stampedes = res.get("stampedes") or []
    if stampedes:
        w("### A publish, then a stampede of cold requests")
        w("")
        w(f"After each round's warm runs the admin publishes {f['countries'][0]} over the API (so every kept answer")
        w(f"is stale), then {stampedes[0]['clients']} clients send one request each at the same moment, over "
          f"{stampedes[0]['urls']} URLs, each as the public and as the admin")
        w("(every endpoint x country x level of the load runs: as many cold answers to compute at once).")
        w(f"A request taking over {stampedes[0]['timeout_s']:g} s counts as timed out.")
        w("")
        w("| round | publish took | answers | timeouts / errors | p50 | p95 | max | maps prepared again |")
        w("|---:|---:|---|---:|---:|---:|---:|---:|")
        for x in stampedes:
            bad = sum(n for k, n in x["outcomes"].items() if k != "200")
            again = f"{x['prepared_s']:.1f} s" if "prepared_s" in x else "–"
            w(f"| {x['round'] + 1} | {x['publish_s']:.1f} s | {x['ok']} of {x['clients']} with 200 | {bad} | "
              f"{_ms(x['p50'])} | {_ms(x['p95'])} | {_ms(x['max'])} | {again} |")
        w("")
    w(f"### Targets: p95 < {TARGET_P95_MS:.0f} ms at {TARGET_CLIENTS} clients, cold public requests < "
      f"{TARGET_COLD_S:g} s, no timeouts after a publish")
    w("")
    w("| endpoint | caller | p95 at 50 clients | |")
    w("|---|---|---:|---|")
    for ep in endpoints:
        for who in ("public", "admin"):
            b = best.get(f"{ep}|{who}|passage|{TARGET_CLIENTS}")
            if b:
                w(f"| {ep} | {who} | {_ms(b['p95'])} | {bench_run._yes(b['p95'] < TARGET_P95_MS)} |")
    cold_public = [x["ms"] for x in res["cold"] if x["system"] == "passage" and x["who"] == "public"
                   and not x["first"]]
    if cold_public:
        w(f"| cold, every endpoint | public | slowest {_ms(max(cold_public))} (median "
          f"{_ms(statistics.median(cold_public))}) | {bench_run._yes(max(cold_public) < TARGET_COLD_S * 1000)} |")
    if stampedes:
        bad = sum(n for x in stampedes for k, n in x["outcomes"].items() if k != "200")
        w(f"| after a publish | both | {bad} of {sum(x['clients'] for x in stampedes)} timed out or failed | "
          f"{bench_run._yes(bad == 0)} |")
    if notes.strip():
        w("")
        w(notes_marker)
        w(notes.strip("\n"))
    w(end)
    return "\n".join(L)


def existing_notes(path: Path, backend: str = "duckdb") -> str:
    start, end, notes = markers(backend)
    if not path.exists():
        return ""
    text = path.read_text(encoding="utf-8")
    i, j = text.find(start), text.find(end)
    if i < 0 or j < i:
        return ""
    sec = text[i:j]
    k = sec.find(notes)
    return sec[k + len(notes):] if k >= 0 else ""


def write_section(path: Path, sec: str, backend: str = "duckdb") -> None:
    """Replace the section between the markers, or append it."""
    start, end, _ = markers(backend)
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    i, j = text.find(start), text.find(end)
    if i >= 0 and j > i:
        text = text[:i] + sec + text[j + len(end):]
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + sec + "\n"
    path.write_text(text, encoding="utf-8")


# ============================================================================================ main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Portal/API latency under concurrent clients, against Datasette.")
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--quick", action="store_true", help="short runs (checks the script): fewer requests, 4 s each")
    ap.add_argument("--requests", type=int, default=None, help="at most this many requests per run (default 3000)")
    ap.add_argument("--seconds", type=float, default=None, help="time budget of a run (default 20 s)")
    ap.add_argument("--warm-seconds", type=float, default=None, help="time budget of a run's warm-up (default 5 s)")
    ap.add_argument("--timeout", type=float, default=120, help="give up on a request after this many seconds")
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 10, 50])
    ap.add_argument("--levels", type=int, nargs="+", default=[1],
                    help="admin levels the load runs cycle over (default 1: at 10 M rows one admin-2 query of the "
                         "largest country takes Datasette about 17 s, which no time budget of a run absorbs)")
    ap.add_argument("--cold-levels", type=int, nargs="+", default=list(LEVELS),
                    help="admin levels of the cold requests (and of the same-answer check)")
    ap.add_argument("--repeat", type=int, default=2, help="rounds (systems alternate; the best run is reported)")
    ap.add_argument("--out", type=Path, default=None, help="write the section into this file (docs/performance.md)")
    ap.add_argument("--report-only", type=Path, default=None, metavar="JSON",
                    help="only rewrite the section of --out from a results file of bench/out/")
    ap.add_argument("--data", type=Path, default=BENCH / "data", help="where the generated CSVs are kept")
    ap.add_argument("--work", type=Path, default=BENCH / "data" / "work", help="the store and its SQLite copy")
    ap.add_argument("--rebuild", action="store_true", help="rebuild the store and the SQLite copy")
    ap.add_argument("--backend", choices=("duckdb", "postgresql"), default="duckdb",
                    help="Passage's store: a DuckDB file, or a schema bench_serve_N of --pg-url")
    ap.add_argument("--pg-url", default=PG_URL, help="PostgreSQL server for --backend postgresql "
                                                     "(default: $PASSAGE_TEST_PG or the local test database)")
    ap.add_argument("--endpoints", nargs="+", choices=ENDPOINTS, default=list(ENDPOINTS))
    ap.add_argument("--stampede-clients", type=int, default=50,
                    help="clients sending one cold request each at once right after a publish (0: none)")
    ap.add_argument("--stampede-timeout", type=float, default=30.0,
                    help="a stampede request that takes longer counts as timed out")
    ap.add_argument("--cold-only", action="store_true",
                    help="only the cold requests of each round (no load runs, no stampede): prints their table and "
                         "every request's time; writes the raw JSON, not the section")
    a = ap.parse_args(argv)
    if a.cold_only and a.out:
        ap.error("--cold-only measures part of a section: it prints its figures instead of writing --out")
    defaults = (300, 4.0, 2.0) if a.quick else (3000, 20.0, 5.0)
    a.requests = a.requests or defaults[0]
    a.seconds = a.seconds or defaults[1]
    a.warm_seconds = a.warm_seconds or defaults[2]
    if a.report_only:
        res = json.loads(a.report_only.read_text())
    else:
        t0 = time.perf_counter()
        res = run(a)
        res["total_seconds"] = time.perf_counter() - t0
        out_json = BENCH / "out" / f"serve-{a.backend}-{datetime.now().strftime('%Y%m%d-%H%M%S')}.json"
        out_json.parent.mkdir(parents=True, exist_ok=True)
        out_json.write_text(json.dumps(res, indent=1, default=str))
        print(f"raw results: {out_json} ({res['total_seconds']:.0f} s in all)")
    if res["settings"].get("cold_only"):
        print(cold_report(res))
    elif a.out:
        backend = res.get("backend", "duckdb")
        write_section(a.out, section(res, existing_notes(a.out, backend)), backend)
        print(f"wrote the serve section of {a.out}")
    else:
        print(section(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
