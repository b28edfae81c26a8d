"""Passage benchmarks (issue 2, section 8): import and HAPI aggregation, side by side with baselines.

    /work/venv/bin/python bench/run.py --rows 1000000 10000000 --out docs/performance.md

For each size it generates a DTM-shaped HDX CSV (bench/data/, gitignored; reused when present) and
measures, each in a fresh subprocess (wall time, CPU time and peak RSS of that process):

  passage     `passage.ingest.import_files(store, "dtm", [csv])` with full validation into a fresh DuckDB
              file store (P-codes and the DTM pack loaded beforehand, outside the timing);
  duckdb      DuckDB's own typed `read_csv` of the same file into a table of a fresh DuckDB file
              (the physical floor);
  pandas+hxl  bench/pandas_hxl.py: libhxl schema validation + pandas for the other checks, to Parquet;
  agg-*       the HAPI aggregation (sum of num_present_idp_ind by admin level, place, operation,
              assessment type, round and reporting date) via Ibis over the store the passage run made,
              via the `idps` indicator and the full `hapi-idps` table, vs pandas `groupby`.

Not part of the test suite. Results: a Markdown report (--out) and JSON beside the data (bench/out/).
The machine is shared: `--wait-idle` waits for the load average to drop before each measurement,
and CPU seconds are reported beside wall seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
SHARED_PCODES = ROOT.parent / "shared" / "data" / "pcodes"
GROUP_BY = ["admin_level", "_place_code", "operation", "assessment_type", "round_number", "reporting_date"]
TARGETS = {"import_vs_duckdb": 0.5, "import_vs_pandas": 20.0, "hapi_seconds": 1.0}


# ============================================================================================ child tasks


def _pcode_files() -> tuple[Path, Path]:
    """OCHA's full global table when the shared data is there (a production-sized places table), else the
    packaged subset."""
    full = SHARED_PCODES / "global-pcodes-adm-1-2.csv"
    if full.exists():
        return full, SHARED_PCODES / "global-pcode-lengths.csv"
    from passage.packs.dtm.demo import LENGTHS_FILE, PCODES_FILE, packaged_file

    return packaged_file(PCODES_FILE), packaged_file(LENGTHS_FILE)


def task_template(a) -> dict:
    from passage.places import import_lengths, import_pcodes
    from passage.plugins import install_pack
    from passage.store import open_store

    target = Path(a.work) / "template.duckdb"
    for p in (target, target.with_name(target.name + ".wal")):
        p.unlink(missing_ok=True)
    pcodes, lengths = _pcode_files()
    with open_store(str(target)) as s:
        n = import_pcodes(s, pcodes).value
        import_lengths(s, lengths)
        install_pack(s, "dtm")
        s.execute("CHECKPOINT")
    return {"places": n, "pcodes": str(pcodes)}


class _TimedConnection:
    """A DuckDB connection that times every statement and charges it to the Passage function that ran it."""

    def __init__(self, con, log: list):
        object.__setattr__(self, "_con", con)
        object.__setattr__(self, "_log", log)

    def execute(self, sql, *args, **kwargs):
        import inspect
        from time import perf_counter

        t = perf_counter()
        try:
            return self._con.execute(sql, *args, **kwargs)
        finally:
            spent = perf_counter() - t
            where = "?"
            for fr in inspect.stack(0)[1:]:
                mod = fr.frame.f_globals.get("__name__", "")
                if mod.startswith("passage.") and not mod.startswith("passage.store"):
                    where = f"{mod.removeprefix('passage.')}.{fr.frame.f_code.co_qualname}"
                    break
            self._log.append((where, " ".join(str(sql).split())[:160], spent))

    def __getattr__(self, name):
        return getattr(self._con, name)

    def __setattr__(self, name, value):
        setattr(self._con, name, value)


def _instrument() -> tuple[dict, dict]:
    """Time the pipeline's parts (robust to refactoring: only wraps what exists)."""
    from time import perf_counter

    from passage import records
    from passage.ingest import pipeline
    from passage.packs.dtm.importer import DtmImporter

    parts: dict[str, float] = defaultdict(float)
    checks: dict[str, float] = defaultdict(float)

    def timed(bucket, name, fn):
        def wrapper(*args, **kwargs):
            t = perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                bucket[name] += perf_counter() - t
        return wrapper

    import importlib
    import pkgutil

    import passage.checks as checks_pkg

    for info in pkgutil.iter_modules(checks_pkg.__path__):
        mod = importlib.import_module(f"passage.checks.{info.name}")
        if callable(getattr(mod, "run", None)):
            mod.run = timed(checks, info.name, mod.run)
    for name, label in (("describe", "hash (sha256)"), ("archive", "archive (copy file)"),
                        ("PcodeResolver", "load P-code resolver"), ("run_checks", "run_checks (all checks)")):
        if hasattr(pipeline, name):
            setattr(pipeline, name, timed(parts, label, getattr(pipeline, name)))
    for name, label in (("load", "load records (INSERT)"), ("current_keys", "store keys")):
        if hasattr(records, name):
            setattr(records, name, timed(parts, label, getattr(records, name)))
    DtmImporter.stage = timed(parts, "parse + stage (read_csv, mapping)", DtmImporter.stage)
    return parts, checks


def task_passage(a) -> dict:
    from passage.ingest import import_files
    from passage.store import open_store

    parts, checks = _instrument()
    target = Path(a.work) / f"passage-{a.rows}.duckdb"
    _remove_store(target)
    shutil.copyfile(Path(a.work) / "template.duckdb", target)
    steps: list[tuple[str, float]] = []
    sql_log: list[tuple[str, str, float]] = []
    t0 = time.perf_counter()
    with open_store(str(target)) as store:
        if store.dialect == "duckdb":
            store.con = _TimedConnection(store.con, sql_log)
        result = import_files(store, "dtm", [Path(a.csv)], user="bench",
                              progress=lambda s: steps.append((s, time.perf_counter())))
        t_import = time.perf_counter() - t0
        n = store.scalar("SELECT count(*) FROM dtm_idps")
    seconds = time.perf_counter() - t0
    by_fn: dict[str, float] = defaultdict(float)
    for where, _, spent in sql_log:
        by_fn[where] += spent
    marks = steps + [("end", t0 + t_import)]
    phases = {name: round(marks[i + 1][1] - t, 3) for i, (name, t) in enumerate(marks[:-1])}
    if steps:
        phases = {"setup (pack, form)": round(steps[0][1] - t0, 3), **phases}
    phases["close (checkpoint)"] = round(seconds - t_import, 3)
    return {
        "seconds": seconds, "status": result.status, "inserted": result.inserted, "records": n,
        "errors": result.report.error_count(), "warnings": result.report.warning_count(),
        "findings": sorted({f.code for f in result.report.findings}),
        "phases": phases, "parts": dict(parts), "checks": dict(checks),
        "sql_by_function": dict(sorted(by_fn.items(), key=lambda kv: -kv[1])),
        "sql_slowest": sorted(([w, q, round(t, 3)] for w, q, t in sql_log), key=lambda r: -r[2])[:15],
        "store_bytes": _du(target),
    }


DUCKDB_TYPES = {
    "id": "BIGINT", "adminLevel": "INTEGER", "numPresentIdpInd": "BIGINT", "reportingDate": "TIMESTAMP",
    "yearReportingDate": "INTEGER", "monthReportingDate": "INTEGER", "roundNumber": "INTEGER",
    "numberMales": "BIGINT", "numberFemales": "BIGINT",
}


def task_duckdb(a) -> dict:
    import duckdb

    from passage.packs.dtm.importer import COLUMNS

    target = Path(a.work) / f"duckdb-{a.rows}.duckdb"
    _remove_store(target)
    cols = "{" + ", ".join(f"'{c}': '{DUCKDB_TYPES.get(c, 'VARCHAR')}'" for c in COLUMNS) + "}"
    t0 = time.perf_counter()
    con = duckdb.connect(str(target))
    con.execute("SET enable_progress_bar = false")
    con.execute(f"CREATE TABLE dtm AS SELECT * FROM read_csv('{a.csv}', header = false, skip = 2, "
                f"columns = {cols}, auto_detect = false)")
    n = con.execute("SELECT count(*) FROM dtm").fetchone()[0]
    con.close()
    return {"seconds": time.perf_counter() - t0, "records": n, "store_bytes": _du(target)}


def task_write(a) -> dict:
    """The records alone, written straight from the file in the store's own layout, inside one transaction, with
    no check at all: the importer's mapping (trims, reasons, dates, missing words, the text as given), the
    fields typed as `records.load` types them, the record id from the pack's key and the system columns. P-codes
    are taken as given (no normalisation) and rows are not numbered, so this is a lower bound: whatever a
    validated import does, it also writes these rows, and cannot be faster than this."""
    from passage import records
    from passage.checks import Context, unique_key
    from passage.findings import Report
    from passage.forms import get_form
    from passage.forms.registry import SYSTEM_COLUMNS, record_table
    from passage.ingest.csvfile import MAX_LINE_BYTES, sql_str
    from passage.packs.dtm.importer import COLUMNS, mapping_sql
    from passage.plugins import pack_for_form
    from passage.store import open_store

    target = Path(a.work) / f"write-{a.rows}.duckdb"
    _remove_store(target)
    shutil.copyfile(Path(a.work) / "template.duckdb", target)
    header = list(COLUMNS)
    t0 = time.perf_counter()
    with open_store(str(target)) as store:
        form = get_form(store, "dtm_idps")
        config = pack_for_form("dtm_idps").record_config("dtm_idps")
        key = unique_key.key_sql(Context(store.con, "", form, config, Report()))
        places = config["places"]
        level = places["level_field"]
        place = "coalesce(" + ", ".join(
            [f"CASE WHEN {level} = '{lv}' THEN {spec['code']} END" for lv, spec in sorted(places["levels"].items(),
                                                                                     reverse=True)]
            + [f"upper(trim({places['country']}))"]) + ")"
        typed = dict(records._typed(form.top_fields()))
        system = {"_record_id": f"({key})", "_version": "1", "_current": "true", "_deleted": "false",
                  "_import_id": "1", "_source_sha256": "'" + "0" * 64 + "'", "_source_row": "_row",
                  "_source_sheet": "_sheet", "_user": "'bench'", "_created_at": "current_timestamp::TIMESTAMP",
                  "_place_code": "_place_code", "_warnings": "NULL"}
        cols = [c for c, _ in SYSTEM_COLUMNS] + list(typed)
        named = ", ".join(f'c{i} AS "{h}"' for i, h in enumerate(header))
        spec = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(header))) + "}"
        raw = (f"SELECT NULL::BIGINT AS _row, 'f.csv' AS _file, {named} FROM read_csv({sql_str(a.csv)}, "
               f"auto_detect=false, header=false, skip=2, columns={spec}, delim=',', quote='\"', escape='\"', "
               f"strict_mode=true, max_line_size={MAX_LINE_BYTES})")
        # The place first (the key reads it); fields the file does not carry (the provider's codes, set only by
        # P-code normalisation) stay NULL.
        mapped = f"SELECT *, {place} AS _place_code FROM (SELECT {mapping_sql(set(header))} FROM ({raw}) AS src)"
        have = {r[0] for r in store.con.execute(f"DESCRIBE {mapped}").fetchall()}
        select = ", ".join(system.get(c) or (typed[c] if c in have else "NULL") for c in cols)
        with store.transaction():
            store.execute(f"INSERT INTO {record_table('dtm_idps')} ({', '.join(cols)}) SELECT {select} "
                          f"FROM ({mapped}) AS m")
        n = store.scalar("SELECT count(*) FROM dtm_idps")
    return {"seconds": time.perf_counter() - t0, "records": n, "store_bytes": _du(target)}


def task_pandas_hxl(a) -> dict:
    sys.path.insert(0, str(BENCH))
    import pandas_hxl

    pcodes, lengths = _pcode_files()
    out = Path(a.work) / f"pandas-{a.rows}.parquet"
    r = pandas_hxl.run(Path(a.csv), pcodes, lengths, a.hxl_max_rows, out)
    r["store_bytes"] = out.stat().st_size
    return r


def task_agg_ibis(a) -> dict:
    from passage.indicators import compute
    from passage.packs.dtm.hapi import hapi_idps
    from passage.store import open_store

    out: dict = {}
    with open_store(str(Path(a.work) / f"passage-{a.rows}.duckdb")) as store:
        t = store.ibis().table("dtm_idps")
        expr = t.group_by(GROUP_BY).aggregate(population=t.num_present_idp_ind.sum())
        runs = []
        for _ in range(a.repeat):
            t0 = time.perf_counter()
            res = expr.to_pyarrow()
            runs.append(time.perf_counter() - t0)
        out["ibis"] = {"runs": runs, "groups": res.num_rows, "total": int(res.column("population").to_numpy().sum())}
        runs = []
        for _ in range(a.repeat):
            t0 = time.perf_counter()
            res = compute(store, "idps")
            runs.append(time.perf_counter() - t0)
        out["indicator"] = {"runs": runs, "groups": res.num_rows}
        t0 = time.perf_counter()
        res = hapi_idps(store).data
        out["hapi_table"] = {"runs": [time.perf_counter() - t0], "groups": res.num_rows}
    return out


def task_agg_pandas(a) -> dict:
    import pandas as pd

    t0 = time.perf_counter()
    df = pd.read_csv(a.csv, skiprows=[1], keep_default_na=False, na_values=[""],
                     usecols=["adminLevel", "admin0Pcode", "admin1Pcode", "admin2Pcode", "operation",
                              "assessmentType", "roundNumber", "reportingDate", "numPresentIdpInd"],
                     dtype={"admin0Pcode": str, "admin1Pcode": str, "admin2Pcode": str, "reportingDate": str})
    df["place"] = df["admin2Pcode"].fillna(df["admin1Pcode"]).fillna(df["admin0Pcode"])
    df["reportingDate"] = pd.to_datetime(df["reportingDate"].str.slice(0, 10), format="%Y-%m-%d")
    load = time.perf_counter() - t0
    keys = ["adminLevel", "place", "operation", "assessmentType", "roundNumber", "reportingDate"]
    runs = []
    for _ in range(a.repeat):
        t0 = time.perf_counter()
        res = df.groupby(keys, sort=False, dropna=False)["numPresentIdpInd"].sum()
        runs.append(time.perf_counter() - t0)
    return {"load_seconds": load, "runs": runs, "groups": len(res), "total": int(res.sum())}


TASKS = {"template": task_template, "passage": task_passage, "duckdb": task_duckdb, "pandas-hxl": task_pandas_hxl, "write": task_write,
         "agg-ibis": task_agg_ibis, "agg-pandas": task_agg_pandas}


def _remove_store(path: Path) -> None:
    for p in (path, path.with_name(path.name + ".wal")):
        p.unlink(missing_ok=True)
    shutil.rmtree(path.with_name(path.stem + ".files"), ignore_errors=True)


def _du(path: Path) -> int:
    files = [path] + (list(path.with_name(path.stem + ".files").glob("*")) if path.suffix == ".duckdb" else [])
    return sum(p.stat().st_size for p in files if p.is_file())


def child_main(a) -> int:
    result = TASKS[a.task](a)
    ru = resource.getrusage(resource.RUSAGE_SELF)
    result["peak_rss_mb"] = ru.ru_maxrss / 1024
    result["cpu_seconds"] = ru.ru_utime + ru.ru_stime
    print("RESULT " + json.dumps(result, default=str), flush=True)
    return 0


# ============================================================================================== parent


def wait_idle(limit: float, timeout: float) -> float:
    start = time.time()
    while os.getloadavg()[0] > limit and time.time() - start < timeout:
        time.sleep(5)
    return os.getloadavg()[0]


def run_task(task: str, args: argparse.Namespace, csv: Path | None, rows: int, **extra) -> dict:
    load = wait_idle(args.idle_load, args.idle_timeout) if args.wait_idle else os.getloadavg()[0]
    cmd = [sys.executable, str(Path(__file__).resolve()), "--task", task, "--work", str(args.work),
           "--rows", str(rows), "--repeat", str(args.repeat)]
    if csv is not None:
        cmd += ["--csv", str(csv)]
    for k, v in extra.items():
        if v is not None:
            cmd += [f"--{k.replace('_', '-')}", str(v)]
    print(f"  {task:<11} ...", end="", flush=True)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        print(" FAILED")
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(f"task {task} failed")
    out = json.loads(lines[-1][len("RESULT "):])
    out["process_seconds"] = wall
    out["load_before"] = load
    out["load_after"] = os.getloadavg()[0]
    secs = out.get("seconds")
    print(f" {secs:.1f} s" if isinstance(secs, (int, float)) else f" done ({wall:.1f} s)",
          f"peak {out['peak_rss_mb']:.0f} MB, load {load:.2f}->{out['load_after']:.2f}")
    return out


def machine() -> dict:
    import duckdb
    import ibis
    import pandas

    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = int(line.split()[1]) / 1024 / 1024
    try:
        import importlib.metadata as md

        hxl_version = md.version("libhxl")
    except Exception:  # noqa: BLE001
        hxl_version = "?"
    return {"cpu": cpu, "cores": os.cpu_count(), "ram_gb": round(mem, 1), "python": platform.python_version(),
            "duckdb": duckdb.__version__, "pandas": pandas.__version__, "ibis": ibis.__version__,
            "libhxl": hxl_version, "os": platform.platform()}


def bench_size(args, rows: int) -> dict:
    from passage.packs.dtm.demo import generate_rows_csv

    csv = args.data / f"dtm-{rows}.csv"
    res: dict = {"rows": rows, "csv": str(csv)}
    if not csv.exists() or args.regenerate:
        t0 = time.perf_counter()
        generate_rows_csv(csv, rows)
        res["generate_seconds"] = time.perf_counter() - t0
        print(f"  generated {csv} in {res['generate_seconds']:.1f} s")
    res["csv_bytes"] = csv.stat().st_size
    # interleaved and repeated: the machine is shared, so the best of N is the fairest figure for each
    runs: dict[str, list[dict]] = {"passage": [], "duckdb": [], "write": []}
    for _ in range(max(1, args.import_repeat)):
        for task in ("passage", "duckdb", "write"):
            runs[task].append(run_task(task, args, csv, rows))
    for task, rs in runs.items():
        best = min(rs, key=lambda r: r["seconds"])
        res[task] = best | {"all_seconds": [r["seconds"] for r in rs], "all_loads": [r["load_before"] for r in rs]}
    if not args.skip_pandas:
        res["pandas_hxl"] = run_task("pandas-hxl", args, csv, rows, hxl_max_rows=args.hxl_max_rows)
    res["agg_ibis"] = run_task("agg-ibis", args, None, rows)
    res["agg_pandas"] = run_task("agg-pandas", args, csv, rows)
    return res


# ============================================================================================== report


def _mb(b: float) -> str:
    return f"{b / 1e6:,.0f} MB" if b < 1e9 else f"{b / 1e9:,.2f} GB"


def _s(x: float) -> str:
    return f"{x:,.2f} s" if x < 10 else f"{x:,.1f} s"


def _rate(rows: int, secs: float) -> str:
    r = rows / secs
    return f"{r / 1e6:,.2f} M rows/s" if r >= 1e5 else f"{r / 1e3:,.1f} k rows/s"


def _yes(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def report(results: dict) -> str:
    m = results["machine"]
    L = []
    w = L.append
    w("# Performance")
    w("")
    w("Benchmarks for issue 2, section 8: importing DTM-shaped data with full validation, and the HDX HAPI")
    w("aggregation, against the physical floor (DuckDB reading the CSV itself) and the way it is done without")
    w("Passage (pandas + libhxl). Generated by `bench/run.py`; rerun with")
    w("")
    w("```")
    w(f"/work/venv/bin/python bench/run.py --rows {' '.join(str(s['rows']) for s in results['sizes'])} "
      "--out docs/performance.md")
    w("```")
    w("")
    w("## Machine")
    w("")
    w(f"- Date: {results['date']}")
    w(f"- CPU: {m['cpu']}, {m['cores']} cores; RAM {m['ram_gb']} GB; {m['os']}")
    w(f"- Python {m['python']}, DuckDB {m['duckdb']}, Ibis {m['ibis']}, pandas {m['pandas']}, libhxl {m['libhxl']}")
    w("- The machine is shared with other work (other sessions run test suites on it). Each measurement runs in")
    w("  its own process; wall and CPU seconds are both given, with the 1-minute load average before it.")
    w("")
    w("## Method")
    w("")
    w("- **Data**: `passage.packs.dtm.demo.generate_rows_csv(path, n)`: the HDX CSV layout (header + HXL row, all 21")
    w("  columns), rows over the 1,433 real places of the packaged P-code subset (4 countries, admin0-2; Chad")
    w("  with ISO2-prefixed codes, whose rows carry `PCode length` warnings), six displacement reasons in")
    w("  mixed case, three assessment types, monthly rounds; 20 % of rows with males/females, 30 % with an")
    w("  origin. Every key is unique, so every file imports (0 errors).")
    w("- **passage**: `import_files(store, \"dtm\", [csv])` into a fresh DuckDB file store holding OCHA's global")
    w("  P-code table (33,363 places) and the DTM pack, both loaded before the clock starts. Everything the")
    w("  import does is timed: sha256 of the file, parsing, every check (types, required, constraints,")
    w("  relevance, P-code normalisation/level/parent, names, negatives, males + females <= total, future")
    w("  dates, duplicate keys in the file and against the store), archiving a copy of the file, loading")
    w("  the versioned records, and closing the store (checkpoint).")
    w("- **duckdb**: `CREATE TABLE AS SELECT * FROM read_csv(..., columns = {typed})` into a fresh DuckDB file,")
    w("  then close: the physical floor for getting this CSV into a typed table on this machine.")
    w("- **records alone** (`task_write`): the records written straight from the file into the same store's record")
    w("  table, in Passage's layout (the importer's mapping, the typed fields, the record id from the pack's key,")
    w("  the system columns), in one transaction, with no check, no hash, no archive copy, no row numbers and no")
    w("  P-code normalisation: a lower bound for any validated import that stores records this way.")
    w("- **pandas + libhxl** (`bench/pandas_hxl.py`): libhxl validates the file against an HXL schema")
    w("  (required, numbers, ranges), pandas does dates, future dates, males + females <= total, P-code")
    w("  normalisation and unknown/level/parent checks, name warnings and duplicate keys, and writes Parquet.")
    w("  Written the efficient pandas way (vectorised; per-unique-value mappings). libhxl streams row by row,")
    w("  so where it ran on a prefix of the file its time is scaled linearly to the whole file (marked *).")
    w("- **HAPI aggregation**: sum of `num_present_idp_ind` grouped by admin level, place, operation,")
    w("  assessment type, round and reporting date (HAPI's IDP grain), over the records the passage run")
    w("  loaded: through Ibis on the DuckDB store (`to_pyarrow()`, result in memory), through the `idps`")
    w("  indicator (same plus ordering), the complete `hapi-idps` table (joins for names, warnings); and")
    w("  pandas `groupby` on a DataFrame already in memory (loading it is not timed). Best of several runs.")
    w("- **Peak RSS**: `ru_maxrss` of the process doing the work (Python + libraries included).")
    w("- **Noise**: the passage import, the DuckDB read and the records alone run interleaved, twice each by default")
    w("  (`--import-repeat`), and the best run of each is reported; the baseline runs once (it takes minutes,")
    w("  and noise of a few seconds does not change its ratio much).")
    w("")
    w("## Results")
    for s in results["sizes"]:
        n = s["rows"]
        p, d = s["passage"], s["duckdb"]
        ph = s.get("pandas_hxl")
        w("")
        w(f"### {n:,} rows ({_mb(s['csv_bytes'])} CSV)")
        w("")
        w("| run | wall | CPU | rate | peak RSS | output | load before |")
        w("|---|---:|---:|---:|---:|---:|---:|")
        w(f"| passage import (full validation) | {_s(p['seconds'])} | {_s(p['cpu_seconds'])} | "
          f"{_rate(n, p['seconds'])} | {p['peak_rss_mb']:,.0f} MB | {_mb(p['store_bytes'])} store + archive | "
          f"{p['load_before']:.2f} |")
        w(f"| DuckDB `read_csv` (floor) | {_s(d['seconds'])} | {_s(d['cpu_seconds'])} | {_rate(n, d['seconds'])} | "
          f"{d['peak_rss_mb']:,.0f} MB | {_mb(d['store_bytes'])} | {d['load_before']:.2f} |")
        wr = s.get("write")
        if wr:
            w(f"| records alone, no checks (write floor) | {_s(wr['seconds'])} | {_s(wr['cpu_seconds'])} | "
              f"{_rate(n, wr['seconds'])} | {wr['peak_rss_mb']:,.0f} MB | {_mb(wr['store_bytes'])} | "
              f"{wr['load_before']:.2f} |")
        if ph:
            star = "*" if ph["extrapolated"] else ""
            w(f"| pandas + libhxl | {_s(ph['seconds'])}{star} | {_s(ph['cpu_seconds'])} | "
              f"{_rate(n, ph['seconds'])} | {ph['peak_rss_mb']:,.0f} MB | {_mb(ph['store_bytes'])} Parquet | "
              f"{ph['load_before']:.2f} |")
            hx = ph["libhxl"]
            w(f"| &nbsp;&nbsp;of which libhxl | {_s(hx['seconds_full'])}{star} | | "
              f"{_rate(n, hx['seconds_full'])} | | | |")
            w(f"| &nbsp;&nbsp;of which pandas | {_s(ph['pandas']['seconds'])} | | "
              f"{_rate(n, ph['pandas']['seconds'])} | | | |")
            hd = ph.get("libhxl_with_dates")
            if hd:
                w(f"| pandas + libhxl, libhxl also typing dates (variant) | "
                  f"{_s(hd['seconds_full'] + ph['pandas']['seconds'])}† | | "
                  f"{_rate(n, hd['seconds_full'] + ph['pandas']['seconds'])} | | | |")
        w("")
        if len(p.get("all_seconds", [])) > 1:
            w(f"- Best of {len(p['all_seconds'])} interleaved runs each: passage "
              + ", ".join(_s(x) for x in p["all_seconds"]) + "; DuckDB " + ", ".join(_s(x) for x in d["all_seconds"])
              + ("; records alone " + ", ".join(_s(x) for x in wr["all_seconds"]) if wr else "") + ".")
        ratio_d = d["seconds"] / p["seconds"]
        w(f"- passage: {p['status']}, {p['inserted']:,} records, {p['errors']} errors, {p['warnings']:,} warnings "
          f"({', '.join(p['findings']) or 'none'}).")
        w(f"- Import speed relative to DuckDB's own read: **{ratio_d:.0%}** (target >= 50 % at 10 M rows).")
        if wr:
            w(f"- Writing the records alone, with no check, runs at **{d['seconds'] / wr['seconds']:.0%}** of DuckDB's "
              f"read: the ceiling of a validated import that stores records in this layout. The checks, the hash, "
              f"the archive copy and the staging cost the import the other {_s(p['seconds'] - wr['seconds'])}.")
        if ph:
            ratio_p = ph["seconds"] / p["seconds"]
            note = (f"libhxl measured on the first {ph['libhxl']['measured_rows']:,} rows "
                    f"({_s(ph['libhxl']['seconds'])}) and scaled x{n / ph['libhxl']['measured_rows']:.0f}; "
                    if ph["extrapolated"] else "")
            w(f"- Import speed relative to pandas + libhxl: **{ratio_p:.1f}x faster** (target >= 20x at 10 M rows); "
              f"{note}pandas alone took {_s(ph['pandas']['seconds'])}, so passage runs at "
              f"{ph['pandas']['seconds'] / p['seconds']:.1f}x the speed of the pandas part alone.")
            hd = ph.get("libhxl_with_dates")
            if hd:
                v = (hd["seconds_full"] + ph["pandas"]["seconds"]) / p["seconds"]
                w(f"- † Variant: the same baseline with libhxl's own `date` datatype check on the reporting date "
                  f"(dateutil per cell) instead of pandas: libhxl measured on the first {hd['measured_rows']:,} rows "
                  f"({_s(hd['seconds'])}, {hd['seconds'] / hd['measured_rows'] * 1e6:,.0f} s per million rows) and "
                  f"scaled; against it passage is **{v:.1f}x faster**.")
            errs = ph["pandas"]["errors"]
            w(f"- pandas + libhxl found {sum(errs.values()) + ph['libhxl']['errors']} errors and "
              f"{sum(ph['pandas']['warnings'].values()):,} warnings (passage: {p['errors']}, {p['warnings']:,}).")
        ai, ap = s["agg_ibis"], s["agg_pandas"]
        w("")
        w("HAPI aggregation (best of runs; first run in brackets):")
        w("")
        w("| aggregation | time | groups | peak RSS of process |")
        w("|---|---:|---:|---:|")
        w(f"| Ibis on the DuckDB store, `group_by().aggregate()` | {_s(min(ai['ibis']['runs']))} "
          f"({_s(ai['ibis']['runs'][0])}) | {ai['ibis']['groups']:,} | {ai['peak_rss_mb']:,.0f} MB |")
        w(f"| `idps` indicator (Ibis, ordered) | {_s(min(ai['indicator']['runs']))} "
          f"({_s(ai['indicator']['runs'][0])}) | {ai['indicator']['groups']:,} | |")
        w(f"| full `hapi-idps` table (names, warnings, HRP/GHO) | {_s(ai['hapi_table']['runs'][0])} | "
          f"{ai['hapi_table']['groups']:,} | |")
        w(f"| pandas `groupby` (data in memory; loading took {_s(ap['load_seconds'])}) | {_s(min(ap['runs']))} "
          f"({_s(ap['runs'][0])}) | {ap['groups']:,} | {ap['peak_rss_mb']:,.0f} MB |")
        w("")
        same = ai["ibis"]["total"] == ap["total"] and ai["ibis"]["groups"] == ap["groups"]
        w(f"- Same groups and totals in both: {'yes' if same else 'NO'} "
          f"({ai['ibis']['total']:,} people over {ai['ibis']['groups']:,} groups).")
        w(f"- Ibis/DuckDB vs pandas: {min(ap['runs']) / min(ai['ibis']['runs']):.1f}x faster.")
        w("")
        w("<details><summary>Where the passage import spends its time</summary>")
        w("")
        w("| phase | seconds |")
        w("|---|---:|")
        for k, v in p["phases"].items():
            w(f"| {k} | {v:.2f} |")
        w("")
        w("| part | seconds |")
        w("|---|---:|")
        for k, v in sorted(p["parts"].items(), key=lambda kv: -kv[1]):
            w(f"| {k} | {v:.2f} |")
        for k, v in sorted(p["checks"].items(), key=lambda kv: -kv[1]):
            w(f"| check `{k}` | {v:.2f} |")
        w("")
        w("SQL time by the Passage function that ran it:")
        w("")
        w("| function | seconds |")
        w("|---|---:|")
        for k, v in list(p["sql_by_function"].items())[:12]:
            w(f"| `{k}` | {v:.2f} |")
        w("")
        w("Slowest statements:")
        w("")
        w("| function | seconds | statement (start) |")
        w("|---|---:|---|")
        for fn, sql, secs in p["sql_slowest"][:10]:
            w(f"| `{fn}` | {secs:.2f} | `{sql[:100].replace('|', '/')}` |")
        w("")
        w("</details>")
    w("")
    w("## Targets (issue 2, section 8)")
    w("")
    big = max(results["sizes"], key=lambda s: s["rows"])
    n = big["rows"]
    p, d, ph, ai = big["passage"], big["duckdb"], big.get("pandas_hxl"), big["agg_ibis"]
    w(f"At {n:,} rows:")
    w("")
    w("| target | measured | |")
    w("|---|---:|---|")
    r = d["seconds"] / p["seconds"]
    w(f"| import >= 50 % of raw DuckDB speed | {r:.0%} ({_s(p['seconds'])} vs {_s(d['seconds'])}) | "
      f"{_yes(r >= TARGETS['import_vs_duckdb'])} |")
    if big.get("write"):
        wr = big["write"]
        w(f"| &nbsp;&nbsp;(the records alone, no checks) | {d['seconds'] / wr['seconds']:.0%} ({_s(wr['seconds'])}) | "
          "the ceiling |")
    if ph:
        r = ph["seconds"] / p["seconds"]
        w(f"| import >= 20x pandas + libhxl | {r:.1f}x ({_s(p['seconds'])} vs {_s(ph['seconds'])}"
          f"{'*' if ph['extrapolated'] else ''}) | {_yes(r >= TARGETS['import_vs_pandas'])} |")
        hd = ph.get("libhxl_with_dates")
        if hd:
            v = (hd["seconds_full"] + ph["pandas"]["seconds"]) / p["seconds"]
            w(f"| &nbsp;&nbsp;(variant: libhxl also typing dates) | {v:.1f}x"
              f" ({_s(hd['seconds_full'] + ph['pandas']['seconds'])}†) | {_yes(v >= TARGETS['import_vs_pandas'])} |")
    best = min(ai["ibis"]["runs"])
    w(f"| HAPI aggregation <= 1 s | {_s(best)} (Ibis, best; first run {_s(ai['ibis']['runs'][0])}) | "
      f"{_yes(best <= TARGETS['hapi_seconds'])} |")
    w(f"| peak memory stated | import {p['peak_rss_mb']:,.0f} MB; DuckDB read {d['peak_rss_mb']:,.0f} MB"
      + (f"; pandas + libhxl {ph['peak_rss_mb']:,.0f} MB" if ph else "") + f"; aggregation {ai['peak_rss_mb']:,.0f} MB"
      " | yes |")
    if ph:
        w("")
        budget = (ph["seconds"] / 20) / d["seconds"]
        w(f"For scale: DuckDB's own read (no checks at all) is {ph['seconds'] / d['seconds']:.1f}x faster than "
          f"pandas + libhxl here, so the >= 20x target allows the import {budget:.0%} of the time DuckDB needs "
          "just to read the file" + (" — faster than the physical floor." if budget < 1 else "."))
    if results.get("notes"):
        w("")
        w("## Notes")
        w("")
        w(results["notes"].strip())
    w("")
    return "\n".join(L)


NOTES_FILE = BENCH / "notes.md"
# The other benchmarks' parts of the same file (bench/packs.py, serve.py, spark.py, load.py), each between its
# `<!-- NAME:start -->` and `<!-- NAME:end -->` markers, kept in their order when the import section is rewritten.
OTHER_SECTION = re.compile(r"<!-- ([\w-]+):start -->.*?<!-- \1:end -->", re.DOTALL)


def write_report(path: Path, text: str) -> None:
    """Write the report, keeping every other benchmark's section (between its markers) the file has."""
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    for m in OTHER_SECTION.finditer(old):
        text = text.rstrip("\n") + "\n\n" + m.group(0) + "\n"
    path.write_text(text, encoding="utf-8")


def parent_main(a) -> int:
    if a.report_only:
        results = json.loads(a.report_only.read_text())
        results.pop("notes", None)
        if NOTES_FILE.exists():
            results["notes"] = NOTES_FILE.read_text()
        write_report(a.out, report(results))
        print(f"wrote {a.out} from {a.report_only}")
        return 0
    a.data.mkdir(parents=True, exist_ok=True)
    a.work.mkdir(parents=True, exist_ok=True)
    results = {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "machine": machine(), "sizes": []}
    print("machine:", results["machine"])
    run_task("template", a, None, 0)
    for rows in a.rows:
        print(f"{rows:,} rows")
        results["sizes"].append(bench_size(a, rows))
        if not a.keep:
            for p in a.work.glob(f"*-{rows}.*"):
                if p.is_dir():
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    p.unlink(missing_ok=True)
    if NOTES_FILE.exists():
        results["notes"] = NOTES_FILE.read_text()
    out_json = BENCH / "out" / f"results-{datetime.now().strftime('%Y%m%d-%H%M%S')}.json"
    out_json.parent.mkdir(parents=True, exist_ok=True)
    out_json.write_text(json.dumps(results, indent=1, default=str))
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        write_report(a.out, report(results))
        print(f"wrote {a.out} (raw results: {out_json})")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Passage import and aggregation benchmarks (issue 2, section 8).")
    ap.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    ap.add_argument("--out", type=Path, default=None, help="write the Markdown report here (docs/performance.md)")
    ap.add_argument("--data", type=Path, default=BENCH / "data", help="where the generated CSVs are kept")
    ap.add_argument("--work", type=Path, default=BENCH / "data" / "work", help="stores made by the runs")
    ap.add_argument("--hxl-max-rows", type=int, default=None,
                    help="run libhxl on at most this many rows and scale linearly (default: all rows)")
    ap.add_argument("--skip-pandas", action="store_true", help="leave out the pandas + libhxl baseline")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each aggregation")
    ap.add_argument("--import-repeat", type=int, default=2,
                    help="runs of the passage import and of the DuckDB read (interleaved; the best is reported)")
    ap.add_argument("--regenerate", action="store_true", help="write the CSVs even if present")
    ap.add_argument("--keep", action="store_true", help="keep the stores made by the runs")
    ap.add_argument("--wait-idle", action="store_true", help="wait for a quiet machine before each measurement")
    ap.add_argument("--idle-load", type=float, default=0.7)
    ap.add_argument("--idle-timeout", type=float, default=300)
    ap.add_argument("--report-only", type=Path, default=None, metavar="JSON",
                    help="only rewrite --out from a results file of bench/out/ (e.g. after editing notes.md)")
    ap.add_argument("--task", choices=sorted(TASKS), help=argparse.SUPPRESS)
    ap.add_argument("--csv", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.task:
        a.rows = a.rows[0]
        return child_main(a)
    return parent_main(a)


if __name__ == "__main__":
    sys.exit(main())
