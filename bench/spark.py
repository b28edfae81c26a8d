"""DuckDB against Spark local: the same measure over the same generated DTM-shaped rows.

    .venv/bin/python bench/spark.py --rows 1000000 10000000 --out docs/performance.md

For each size it takes the DTM-shaped HDX CSV of bench/run.py (bench/data/dtm-N.csv, generated with
`passage.packs.dtm.demo.generate_rows_csv` when missing), loads it once with DuckDB's typed `read_csv` into the
columns of the DTM form the `idps` measure reads (outside the timing), and writes it as a Passage snapshot
(Parquet partitioned by country, `manifest.json`: what `passage snapshot` writes). Then, each in a fresh
subprocess, it times `passage.measures.compute(store, "idps")` — sum of num_present_idp_ind by admin level,
place, country, operation, assessment type, round and date, every group returned to Python as Arrow:

  duckdb-table    DuckDB over its own file table (the store as Passage keeps it);
  duckdb-parquet  DuckDB over the snapshot's Parquet files (the same input Spark reads);
  spark           Spark local[2] through Ibis's PySpark backend over the snapshot (`SparkStore`): session
                  start, reading the snapshot, then the measure, first and second run.

Both engines' results are checked equal (groups and total). Not part of the test suite. Results: a Markdown
section between `<!-- spark:start -->` and `<!-- spark:end -->` of --out, JSON in bench/out/spark-N.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "bench" / "data"
WORK = DATA / "spark"
OUT = ROOT / "bench" / "out"
START, END = "<!-- spark:start -->", "<!-- spark:end -->"
# The CSV's columns (bench/run.py's HDX layout) as the DTM form's fields the `idps` measure reads.
SELECT = """
SELECT CAST(adminLevel AS BIGINT) AS admin_level,
       CASE adminLevel WHEN '2' THEN admin2Pcode WHEN '1' THEN admin1Pcode ELSE admin0Pcode END AS _place_code,
       admin0Pcode AS admin0_pcode, operation, assessmentType AS assessment_type,
       CAST(roundNumber AS BIGINT) AS round_number, CAST(reportingDate AS DATE) AS reporting_date,
       CAST(numPresentIdpInd AS BIGINT) AS num_present_idp_ind
FROM read_csv('{csv}', header = false, skip = 2, columns = {columns}, auto_detect = false)
"""


def _csv(rows: int) -> Path:
    path = DATA / f"dtm-{rows}.csv"
    if not path.exists():
        from passage.packs.dtm.demo import generate_rows_csv

        generate_rows_csv(path, rows)
    return path


def prepare(rows: int) -> dict:
    """The DuckDB file table and the Parquet snapshot of `rows` generated rows (reused when present)."""
    import duckdb

    db, snap = WORK / f"dtm-{rows}.duckdb", WORK / f"snap-{rows}"
    if (snap / "manifest.json").exists() and db.exists():
        return json.loads((snap / "manifest.json").read_text(encoding="utf-8"))
    WORK.mkdir(parents=True, exist_ok=True)
    db.unlink(missing_ok=True)
    con = duckdb.connect(str(db))
    con.execute("SET enable_progress_bar = false")
    csv = _csv(rows)
    with csv.open(encoding="utf-8") as f:
        columns = {name: "VARCHAR" for name in f.readline().strip().split(",")}  # the header; then the HXL row
    con.execute(f"CREATE TABLE dtm_idps AS {SELECT.format(csv=csv, columns=columns)}")
    n = con.execute("SELECT count(*) FROM dtm_idps").fetchone()[0]
    types = con.execute("SELECT column_name, data_type FROM information_schema.columns "
                        "WHERE table_name = 'dtm_idps' ORDER BY ordinal_position").fetchall()
    import shutil

    shutil.rmtree(snap, ignore_errors=True)
    (snap / "dtm_idps").mkdir(parents=True)
    con.execute(f"COPY (SELECT *, admin0_pcode AS country FROM dtm_idps) TO '{snap / 'dtm_idps'}' "
                "(FORMAT parquet, PARTITION_BY (country), FILENAME_PATTERN 'part-{i}')")
    con.close()
    manifest = {"format": "passage-snapshot/1", "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "store": {"kind": "duckdb", "generation": 0},
                "tables": {"dtm_idps": {"kind": "records", "rows": n, "columns": [list(t) for t in types],
                                        "partitioned_by": "country", "country_field": "admin0_pcode"}}}
    (snap / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return manifest


def _result(res) -> dict:
    return {"groups": res.num_rows, "total": int(res.column("value").to_numpy().sum())}


def task(engine: str, rows: int) -> dict:
    from passage.measures import compute, get_measure

    measure = get_measure("idps")
    out: dict = {"engine": engine, "rows": rows}
    t0 = time.perf_counter()
    if engine == "spark":
        from passage.engines.spark import SparkStore, spark_session

        session = spark_session("local[2]", **{"spark.driver.memory": os.environ.get("BENCH_SPARK_MEMORY", "6g")})
        out["start_seconds"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        store = SparkStore(WORK / f"snap-{rows}", session)
        out["open_seconds"] = time.perf_counter() - t0
    else:
        from passage.store.duckdb import DuckDBStore

        if engine == "duckdb-table":
            store = DuckDBStore(str(WORK / f"dtm-{rows}.duckdb"))
        else:
            store = DuckDBStore(":memory:")
            store.execute(f"CREATE VIEW dtm_idps AS SELECT * EXCLUDE (country) FROM read_parquet("
                          f"'{WORK / f'snap-{rows}' / 'dtm_idps'}/*/*.parquet', hive_partitioning = true)")
        out["open_seconds"] = time.perf_counter() - t0
    runs = []
    for _ in range(2):
        t0 = time.perf_counter()
        res = compute(store, measure)
        runs.append(time.perf_counter() - t0)
    out["runs"] = runs
    out |= _result(res)
    return out


def _child(engine: str, rows: int) -> dict:
    t0 = time.perf_counter()
    run = subprocess.run([sys.executable, __file__, "--task", engine, "--rows", str(rows)], capture_output=True,
                         text=True, check=False, cwd=WORK)
    if run.returncode != 0:
        raise SystemExit(f"{engine} at {rows:,} rows failed:\n{run.stderr[-3000:]}")
    out = json.loads(run.stdout.strip().splitlines()[-1])
    out["process_seconds"] = time.perf_counter() - t0
    return out


def _machine() -> str:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    java = subprocess.run(["java", "-version"], capture_output=True, text=True, check=False).stderr.splitlines()
    import duckdb
    import pyspark

    return (f"{os.cpu_count()} cores, {mem:.0f} GB RAM, {platform.platform()}, Python {platform.python_version()}, "
            f"DuckDB {duckdb.__version__}, PySpark {pyspark.__version__} ({java[0] if java else 'java ?'}); "
            f"load average at start {os.getloadavg()[0]:.1f}")


def report(results: list[dict], machine: str) -> str:
    w = [START, "## DuckDB against Spark local (the Spark engine)", "",
         (f"Machine: {machine}. Run {datetime.now(UTC).strftime('%Y-%m-%d %H:%M')} UTC with `bench/spark.py` "
         "(the machine is shared: other work ran beside it, so read the numbers as an upper bound)."), "",
         ("The `idps` measure (sum of IDPs by admin level, place, country, operation, assessment type, round and "
         "date: every group returned as Arrow) over DTM-shaped generated rows, each engine in a fresh process. "
         "DuckDB reads its own file table, or the snapshot's Parquet files; Spark (local[2], 6 GB driver) reads "
         "the snapshot through `SparkStore`. Both give the same groups and total (checked)."), "",
         ("| rows | groups | DuckDB table: 1st / 2nd run | DuckDB Parquet: 1st / 2nd | Spark: start + open | "
         "Spark: 1st / 2nd run | Spark process in all |"),
         "|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        d, p, s = r["duckdb-table"], r["duckdb-parquet"], r["spark"]
        w.append(f"| {r['rows']:,} | {d['groups']:,} | {d['runs'][0]:.2f} s / {d['runs'][1]:.2f} s | "
                 f"{p['runs'][0]:.2f} s / {p['runs'][1]:.2f} s | {s['start_seconds']:.1f} s + "
                 f"{s['open_seconds']:.1f} s | {s['runs'][0]:.2f} s / {s['runs'][1]:.2f} s | "
                 f"{s['process_seconds']:.1f} s |")
    w += ["", "<!-- spark:notes (hand-written; kept when the section is regenerated) -->", "", END]
    return "\n".join(w)


def write_report(path: Path, text: str) -> None:
    doc = path.read_text(encoding="utf-8") if path.exists() else ""
    if START in doc and END in doc:
        before, rest = doc.split(START, 1)
        old, after = rest.split(END, 1)
        notes = old.split("<!-- spark:notes", 1)[1].split("-->", 1)[1] if "<!-- spark:notes" in old else "\n\n"
        head = text.split("<!-- spark:notes", 1)[0]
        text = head + "<!-- spark:notes (hand-written; kept when the section is regenerated) -->" + notes + END
        doc = before + text + after
    else:
        doc = doc.rstrip("\n") + "\n\n" + text + "\n"
    path.write_text(doc, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--out", type=Path, help="Markdown file whose spark section is (re)written")
    parser.add_argument("--task", help=argparse.SUPPRESS)
    a = parser.parse_args()
    if a.task:
        print(json.dumps(task(a.task, a.rows[0])))
        return
    machine = _machine()
    results = []
    OUT.mkdir(exist_ok=True)
    for rows in a.rows:
        t0 = time.perf_counter()
        prepare(rows)
        print(f"{rows:,} rows prepared in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        r = {"rows": rows}
        for engine in ("duckdb-table", "duckdb-parquet", "spark"):
            r[engine] = _child(engine, rows)
            print(f"  {engine}: {r[engine]}", file=sys.stderr)
        same = {(r[e]["groups"], r[e]["total"]) for e in ("duckdb-table", "duckdb-parquet", "spark")}
        if len(same) != 1:
            raise SystemExit(f"the engines disagree at {rows:,} rows: {same}")
        (OUT / f"spark-{rows}.json").write_text(json.dumps(r, indent=1), encoding="utf-8")
        results.append(r)
    text = report(results, machine)
    if a.out:
        write_report(a.out, text)
    print(text)


if __name__ == "__main__":
    main()
