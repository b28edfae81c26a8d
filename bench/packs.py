"""Travel trackers and the annual report at their real sizes, side by side with the way it is done without Passage.

    /work/venv/bin/python bench/packs.py --wait-idle --out docs/performance.md     # about 4 minutes
    /work/venv/bin/python bench/packs.py --quick                                   # checks the script, ~2 minutes

Data (generated into bench/data/, gitignored; reused when present, `--regenerate` to rewrite):

- OxCGRT's legacy wide C8 file at its full published size (187 countries x 1,147 days, 01Jan2020-20Feb2023,
  levels 0-4 in runs, ~8 % blank cells), laid out like `c8_internationaltravel.csv`: a leading unnamed index
  column, `country_code`, `country_name`, one column per day, a trailing blank column, CRLF line ends;
- OxCGRT's long national file (~200,000 rows x 64 columns like `OxCGRT_nat_latest.csv`: NAT_TOTAL rows and
  STATE_TOTAL rows, `Date` as YYYYMMDD, values like `3.0`, C8EV/C8NV/C8V beside the other indicators);
- the real ACAPS workbook and the staff register of ../shared/data; the demo data of the annual report.

Measured, each in a fresh subprocess (wall time and CPU time of the timed part, peak RSS of the process):

  OxCGRT import   `import_files(store, "oxcgrt", [file])` into a fresh DuckDB store (travel pack installed
                  beforehand) vs pandas (read_csv, melt/filter, level to status, Parquet; no validation) vs
                  DuckDB's own read_csv + UNPIVOT into a table (the floor);
  daily status    `daily_status(store, day)` (OxCGRT alone, and every source), `compare(store, day,
                  "oxcgrt,acaps")`, `headline(store, day)` over a store holding the wide file and ACAPS, at a
                  few dates (median) vs pandas filtering the melted frame for the same answer;
  ACAPS import    `import_files(store, "acaps", [xlsx])` vs `pandas.read_excel(sheet_name="Dataset")`;
  annual report   `render_annual(store, 2020, ...)` HTML only and HTML + PDF; `staff_tables` vs a pandas
                  crosstab of Annex II from the register CSV.

Not part of the test suite. Writes the section between `<!-- packs:start -->` and `<!-- packs:end -->` of
`--out` (text after its `<!-- packs:notes ... -->` line is kept when the section is regenerated) and the raw
figures as JSON to bench/out/. `--report-only JSON` rewrites the section from a results file.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
SHARED = ROOT.parent / "shared" / "data"
ACAPS_XLSX = SHARED / "acaps" / "acaps_covid19_government_measures_dataset.xlsx"
REGISTER = SHARED / "seed" / "staff_register_2020.csv"
START, END = "<!-- packs:start -->", "<!-- packs:end -->"
NOTES = "<!-- packs:notes (hand-written; kept when the section is regenerated) -->"
YEAR = 2020
WIDE_FIRST, WIDE_DAYS = date(2020, 1, 1), 1147  # 01Jan2020 .. 20Feb2023, as published
LONG_FIRST, LONG_LAST = date(2020, 1, 1), date(2022, 12, 31)
DATES = ["2020-03-20", "2020-05-01", "2020-08-01", "2020-11-01"]  # within ACAPS' span, for compare()
STATUS_OF_LEVEL = {0: "no_restriction", 1: "conditions_only", 2: "conditions_only", 3: "partial_restriction",
                   4: "complete_closure"}
# Countries with STATE_TOTAL rows in the long file (kept in the sample), and how many regions each.
SUBNATIONAL = {"USA": 4, "BRA": 3, "CAN": 2, "GBR": 2, "AUS": 1}

sys.path.insert(0, str(BENCH))
import run as bench_run  # noqa: I001  (bench/run.py: the machine, formatting)


# ============================================================================================ data


def _quote(text: str) -> str:
    return f'"{text}"' if "," in text or '"' in text else text


def _countries(n: int, seed: int) -> list[tuple[str, str]]:
    """n real ISO 3166 countries (the subnational ones always among them), sorted by code, with names."""
    import pycountry

    every = {c.alpha_3: getattr(c, "common_name", None) or c.name for c in pycountry.countries}
    rng = random.Random(seed)
    rest = sorted(set(every) - set(SUBNATIONAL))
    chosen = set(SUBNATIONAL) | set(rng.sample(rest, max(0, min(n, len(every)) - len(SUBNATIONAL))))
    return [(c, every[c]) for c in sorted(chosen)][:n]


def _steps(rng: random.Random, n: int, levels: list[str], first_change: tuple[int, int] = (30, 90),
           length: tuple[int, int] = (14, 150)) -> list[str]:
    """A policy over n days: the first level until a day in `first_change`, then a new level every few weeks."""
    out = [levels[0]] * min(n, rng.randint(*first_change))
    while len(out) < n:
        out += [rng.choice(levels[1:] if len(levels) > 1 else levels)] * rng.randint(*length)
    return out[:n]


def _blank_gaps(rng: random.Random, values: list[str], blank: str = "") -> list[str]:
    """About 8 % blank: a trailing stretch (data ending early) in 60 % of series, and 0-2 short gaps."""
    n = len(values)
    if rng.random() < 0.6:
        k = rng.randint(0, 200)
        values[n - k:] = [blank] * k
    for _ in range(rng.randint(0, 2)):
        k, at = rng.randint(5, 60), rng.randint(0, n - 1)
        values[at:at + k] = [blank] * len(values[at:at + k])
    return values


def generate_wide(path: Path, countries: int, seed: int = 2020) -> dict:
    """OxCGRT's legacy wide C8 timeseries: ,country_code,country_name,01Jan2020,...,20Feb2023, (CRLF)."""
    rng = random.Random(seed)
    days = [WIDE_FIRST + timedelta(d) for d in range(WIDE_DAYS)]
    heads = [d.strftime("%d%b%Y") for d in days]
    cells = blanks = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        fh.write(",".join(["", "country_code", "country_name", *heads, ""]) + "\r\n")
        for i, (code, name) in enumerate(_countries(countries, seed), start=1):
            values = _blank_gaps(rng, _steps(rng, WIDE_DAYS, ["0", "1", "2", "3", "4", "3", "2"]))
            cells += len(values)
            blanks += values.count("")
            fh.write(",".join([str(i), code, _quote(name), *values, ""]) + "\r\n")
    tmp.replace(path)
    return {"countries": countries, "days": WIDE_DAYS, "cells": cells, "blank": blanks, "levels": cells - blanks}


LONG_COLUMNS = [
    "CountryName", "CountryCode", "RegionName", "RegionCode", "Jurisdiction", "Date",
    "C1M_School closing", "C1M_Flag", "C2M_Workplace closing", "C2M_Flag", "C3M_Cancel public events", "C3M_Flag",
    "C4M_Restrictions on gatherings", "C4M_Flag", "C5M_Close public transport", "C5M_Flag",
    "C6M_Stay at home requirements", "C6M_Flag", "C7M_Restrictions on internal movement", "C7M_Flag",
    "C8EV_International travel controls", "C8NV_International travel controls", "C8V_International travel controls",
    "E1_Income support", "E1_Flag", "E2_Debt/contract relief", "E3_Fiscal measures", "E4_International support",
    "H1_Public information campaigns", "H1_Flag", "H2_Testing policy", "H3_Contact tracing",
    "H4_Emergency investment in healthcare", "H5_Investment in vaccines", "H6M_Facial Coverings", "H6M_Flag",
    "H7_Vaccination policy", "H7_Flag", "H8M_Protection of elderly people", "H8M_Flag",
    "V1_Vaccine Prioritisation (summary)", "V2A_Vaccine Availability (summary)",
    "V2B_Vaccine age eligibility/availability age floor (general population summary)",
    "V2C_Vaccine age eligibility/availability age floor (at risk summary)",
    "V2D_Medically/ clinically vulnerable (Non-elderly)", "V2E_Education", "V2F_Frontline workers  (non healthcare)",
    "V2G_Frontline workers  (healthcare)", "V3_Vaccine Financial Support (summary)",
    "V4_Mandatory Vaccination (summary)", "ConfirmedCases", "ConfirmedDeaths", "MajorityVaccinated", "PopWeighted",
    "StringencyIndex_Average", "StringencyIndex_Average_ForDisplay", "GovernmentResponseIndex_Average",
    "GovernmentResponseIndex_Average_ForDisplay", "ContainmentHealthIndex_Average",
    "ContainmentHealthIndex_Average_ForDisplay", "EconomicSupportIndex", "EconomicSupportIndex_ForDisplay",
]
C8_LONG = [c for c in LONG_COLUMNS if c.startswith("C8")]


def _series(rng: random.Random, col: str, n: int, ev: list[str]) -> list[str]:
    """Plausible values for one of the long file's other columns (they only have to be there and look real)."""
    if col.endswith("_Flag"):
        return _steps(rng, n, ["", "1.0", "0.0", "1.0"])
    if col.startswith(("E3_", "E4_", "H4_", "H5_")):
        return [v if rng.random() < 0.02 else "0.0" for v in ("1500000.0",) * n]
    if col.startswith(("V2B", "V2C")):
        return _steps(rng, n, ["", "80-84 yrs", "60-64 yrs", "16-19 yrs"], (300, 420), (30, 120))
    if col.startswith(("V", "H7")):
        return _steps(rng, n, ["0.0", "1.0", "2.0", "3.0"], (330, 400), (30, 200))
    if col.startswith("Confirmed"):
        total, out, k = 0, [], 50 if "Cases" in col else 1
        for _ in range(n):
            total += rng.randint(0, k)
            out.append(f"{total}.0")
        return out
    if col == "MajorityVaccinated":
        return _steps(rng, n, ["NV", "V"], (500, 700), (n, n))
    if col == "PopWeighted":
        return ["0"] * n
    if "Index" in col:
        return [f"{float(v or 0) * 20 + 5.37:.2f}" for v in ev]
    return _steps(rng, n, ["0.0", "1.0", "2.0", "3.0"])


def generate_long(path: Path, national: int, seed: int = 2020) -> dict:
    """OxCGRT's long national file: NAT_TOTAL rows for `national` countries, STATE_TOTAL rows for a few regions."""
    rng = random.Random(seed + 1)
    n = (LONG_LAST - LONG_FIRST).days + 1
    dates = [(LONG_FIRST + timedelta(d)).strftime("%Y%m%d") for d in range(n)]
    units = [(code, name, "", "", "NAT_TOTAL") for code, name in _countries(national, seed)]
    for code, k in SUBNATIONAL.items():
        for j in range(k):
            units.append((code, next(name for c, name in _countries(national, seed) if c == code),
                          f"Region {j + 1}", f"{code[:2]}_R{j + 1}", "STATE_TOTAL"))
    differentiating = set(rng.sample([u[0] for u in units], len(units) * 3 // 10))
    split = (date(2021, 6, 1) - LONG_FIRST).days
    rows = c8 = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        fh.write(",".join(_quote(c) for c in LONG_COLUMNS) + "\n")
        for code, name, rname, rcode, jur in units:
            ev = _blank_gaps(rng, _steps(rng, n, ["0.0", "1.0", "2.0", "3.0", "4.0", "3.0"]))
            nv = [""] * n
            v = [""] * n
            if code in differentiating:
                nv[split:] = ev[split:]
                v[split:] = [x and f"{max(0, int(float(x)) - 1)}.0" for x in ev[split:]]
            cols = {"C8EV_International travel controls": ev, "C8NV_International travel controls": nv,
                    "C8V_International travel controls": v}
            fixed = [_quote(name), code, rname, rcode, jur]
            series = [cols.get(c) or _series(rng, c, n, ev) for c in LONG_COLUMNS[6:]]
            for i, values in enumerate(zip(*series)):
                fh.write(",".join([*fixed, dates[i], *values]) + "\n")
            rows += n
            if jur == "NAT_TOTAL":
                c8 += sum(1 for s in (ev, nv, v) for x in s if x)
    tmp.replace(path)
    return {"rows": rows, "columns": len(LONG_COLUMNS), "national_rows": national * n,
            "state_rows": rows - national * n, "days": n, "countries": national, "levels": c8}


# ============================================================================================ child tasks


def _clock():
    """(wall, CPU) now: CPU of every thread of this process (DuckDB's included)."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return time.perf_counter(), ru.ru_utime + ru.ru_stime


def _since(t: tuple[float, float]) -> dict:
    w, c = _clock()
    return {"seconds": w - t[0], "cpu_seconds": c - t[1]}


def _remove_store(path: Path) -> None:
    for p in (path, path.with_name(path.name + ".wal")):
        p.unlink(missing_ok=True)
    shutil.rmtree(path.with_name(path.stem + ".files"), ignore_errors=True)


def _fresh_copy(a, name: str) -> Path:
    target = Path(a.work) / name
    _remove_store(target)
    shutil.copyfile(Path(a.work) / "travel-template.duckdb", target)
    return target


def task_template(a) -> dict:
    from passage.plugins import install_pack
    from passage.store import open_store

    target = Path(a.work) / "travel-template.duckdb"
    _remove_store(target)
    with open_store(str(target)) as s:
        install_pack(s, "travel")
        s.execute("CHECKPOINT")
    return {}


def _import(a, kind: str, store_name: str) -> dict:
    from passage.ingest import import_files
    from passage.store import open_store

    target = _fresh_copy(a, store_name)
    steps: list[tuple[str, float]] = []
    t = _clock()
    with open_store(str(target)) as store:
        result = import_files(store, kind, [Path(a.file)], user="bench",
                              progress=lambda step: steps.append((step, time.perf_counter())))
        t_import = _since(t)
        form = "travel_level" if kind == "oxcgrt" else "travel_measure"
        n = store.scalar(f"SELECT count(*) FROM {form}")
    out = _since(t)
    marks = [("setup", t[0]), *steps, ("close", t[0] + t_import["seconds"]), ("end", t[0] + out["seconds"])]
    phases = {name: round(marks[i + 1][1] - at, 3) for i, (name, at) in enumerate(marks[:-1])}
    r = result.report
    return {**out, "import_seconds": t_import["seconds"], "phases": phases, "status": result.status,
            "inserted": result.inserted,
            "rows_read": result.rows_read, "records": n, "errors": r.error_count(), "warnings": r.warning_count(),
            "findings": sorted({f.code for f in r.findings}), "store_bytes": bench_run._du(target)}


def task_ox_passage(a) -> dict:
    return _import(a, "oxcgrt", f"ox-{a.layout}.duckdb")


def _status_frame(df):
    import numpy as np

    lv = df["level"].to_numpy()
    df["status"] = np.select([lv >= 4, lv == 3, lv >= 1], ["complete_closure", "partial_restriction",
                                                             "conditions_only"], "no_restriction")
    return df


def _pandas_wide(path: str):
    """The wide file melted to (iso3, country_name, date, indicator, level, status), blanks dropped."""
    import pandas as pd

    df = pd.read_csv(path, index_col=0)
    df = df.drop(columns=[c for c in df.columns if str(c).startswith("Unnamed")])
    long = df.melt(id_vars=["country_code", "country_name"], var_name="day", value_name="level").dropna(
        subset=["level"])
    long["date"] = pd.to_datetime(long.pop("day"), format="%d%b%Y")
    long["level"] = long["level"].astype("int8")
    long["indicator"] = "C8"
    return _status_frame(long.rename(columns={"country_code": "iso3"}))


def _pandas_long(path: str):
    import pandas as pd

    ids = ["CountryCode", "CountryName", "Jurisdiction", "Date"]
    df = pd.read_csv(path, usecols=ids + C8_LONG, dtype={"Date": str})
    df = df[df["Jurisdiction"] == "NAT_TOTAL"].drop(columns="Jurisdiction")
    long = df.melt(id_vars=["CountryCode", "CountryName", "Date"], var_name="indicator",
                   value_name="level").dropna(subset=["level"])
    long["date"] = pd.to_datetime(long.pop("Date"), format="%Y%m%d")
    long["indicator"] = long["indicator"].str.split("_", n=1).str[0]
    long["level"] = long["level"].astype("int8")
    return _status_frame(long.rename(columns={"CountryCode": "iso3", "CountryName": "country_name"}))


def task_ox_pandas(a) -> dict:
    t = _clock()
    df = _pandas_wide(a.file) if a.layout == "wide" else _pandas_long(a.file)
    read = _since(t)
    out = Path(a.work) / f"ox-{a.layout}-pandas.parquet"
    df.to_parquet(out, index=False)
    return {**_since(t), "build_seconds": read["seconds"], "records": len(df), "output_bytes": out.stat().st_size}


def task_ox_duckdb(a) -> dict:
    import duckdb

    target = Path(a.work) / f"ox-{a.layout}-floor.duckdb"
    _remove_store(target)
    src = f"read_csv('{a.file}', header = true, quote = '\"', escape = '\"'" + (
        ", types = {'Date': 'VARCHAR'})" if a.layout == "long" else ")")
    if a.layout == "wide":
        sql = (f"CREATE TABLE levels AS SELECT country_code AS iso3, country_name, "
               f"CAST(strptime(day, '%d%b%Y') AS DATE) AS date, 'C8' AS indicator, CAST(level AS TINYINT) AS level "
               f"FROM (UNPIVOT (SELECT * FROM {src}) ON COLUMNS('^[0-9]') INTO NAME day VALUE level)")
    else:
        sql = (f"CREATE TABLE levels AS SELECT CountryCode AS iso3, CountryName AS country_name, "
               f"CAST(strptime(CAST(\"Date\" AS VARCHAR), '%Y%m%d') AS DATE) AS date, "
               f"split_part(indicator, '_', 1) AS indicator, CAST(level AS TINYINT) AS level "
               f"FROM (UNPIVOT (SELECT * FROM {src} WHERE Jurisdiction = 'NAT_TOTAL') ON COLUMNS('^C8') "
               f"INTO NAME indicator VALUE level)")
    t = _clock()
    con = duckdb.connect(str(target))
    con.execute("SET enable_progress_bar = false")
    con.execute(sql)
    n = con.execute("SELECT count(*) FROM levels").fetchone()[0]
    con.close()
    return {**_since(t), "records": n, "store_bytes": bench_run._du(target)}


def task_status_build(a) -> dict:
    """The store the status calls read: the full-size wide file and the real ACAPS workbook."""
    from passage.ingest import import_files
    from passage.store import open_store

    target = _fresh_copy(a, "status.duckdb")
    t = _clock()
    with open_store(str(target)) as store:
        ox = import_files(store, "oxcgrt", [Path(a.file)], user="bench")
        ac = import_files(store, "acaps", [ACAPS_XLSX], user="bench")
        n = store.query("SELECT (SELECT count(*) FROM travel_level), (SELECT count(*) FROM travel_measure)")[0]
    return {**_since(t), "oxcgrt": ox.status, "acaps": ac.status, "levels": n[0], "measures": n[1]}


def _runs(fn, dates: list[str], repeat: int) -> tuple[dict, dict]:
    """{date: [seconds, ...]} over `repeat` calls per date (the process's very first call is its first entry),
    and the last answer per date."""
    runs, answers = {}, {}
    for d in dates:
        runs[d] = []
        for _ in range(repeat):
            t = time.perf_counter()
            answers[d] = fn(d)
            runs[d].append(time.perf_counter() - t)
    return runs, answers


def task_status_call(a) -> dict:
    from passage.packs.travel.compare import compare
    from passage.packs.travel.headline import headline
    from passage.packs.travel.status import daily_status
    from passage.store import open_store

    t = _clock()
    with open_store(str(Path(a.work) / "status.duckdb")) as store:
        opened = _since(t)
        fns = {
            "daily": lambda d: {r.iso3: r.status for r in daily_status(store, d, source="oxcgrt")},
            "daily-all": lambda d: len(daily_status(store, d)),
            "compare": lambda d: {k: v for k, v in compare(store, d, "oxcgrt,acaps").items()
                                  if k in ("countries", "agreed", "kappa")},
            "headline": lambda d: {s: b["measures"] for s, b in headline(store, d)["measures"].items()},
        }
        t = _clock()
        runs, answers = _runs(fns[a.fn], a.dates.split(","), a.repeat)
        spent = _since(t)
    return {"open_seconds": opened["seconds"], "runs": runs, "answers": answers, **spent}


def task_status_pandas(a) -> dict:
    import pandas as pd

    t = _clock()
    df = _pandas_wide(a.file)[["iso3", "date", "level", "status"]]
    covered = sorted(df["iso3"].unique())
    load = _since(t)

    def one(d: str) -> dict:
        day = df[df["date"] == pd.Timestamp(d)]
        got = dict(zip(day["iso3"], day["status"]))
        return {c: got.get(c, "no_data") for c in covered}

    t = _clock()
    runs, answers = _runs(one, a.dates.split(","), a.repeat)
    return {"load_seconds": load["seconds"], "runs": runs, "answers": answers, **_since(t)}


def task_acaps_passage(a) -> dict:
    return _import(a, "acaps", "acaps.duckdb")


def task_acaps_pandas(a) -> dict:
    import pandas as pd

    t = _clock()
    df = pd.read_excel(a.file, sheet_name="Dataset")
    return {**_since(t), "records": len(df), "columns": len(df.columns)}


def task_report_build(a) -> dict:
    """The annual report's demo data: DTM rounds, finance, the staff register, the questionnaire's offices."""
    from passage.ingest import import_files
    from passage.packs.dtm.demo import run_demo
    from passage.packs.institutional import load_demo_questionnaire
    from passage.packs.institutional.report.finance import DEMO_CSV, import_finance
    from passage.store import open_store

    target = Path(a.work) / "report.duckdb"
    _remove_store(target)
    parts = {}
    t0 = _clock()
    with open_store(str(target)) as s:
        t = _clock()
        run_demo(s, Path(a.work) / "report-demo", rounds=30)
        parts["DTM demo, 30 rounds,"] = _since(t)["seconds"]
        t = _clock()
        assert import_finance(s, DEMO_CSV, user="bench").status == "committed"
        parts["finance CSV"] = _since(t)["seconds"]
        t = _clock()
        r = import_files(s, "staff-register", [REGISTER], user="bench")
        assert r.status == "committed", r.report
        parts["staff register"] = _since(t)["seconds"]
        t = _clock()
        load_demo_questionnaire(s, user="bench", accounts=False)
        parts["questionnaire demo"] = _since(t)["seconds"]
        staff = s.scalar("SELECT count(*) FROM staff_member")
    return {**_since(t0), "parts": parts, "staff": staff, "store_bytes": bench_run._du(target)}


def task_report_render(a) -> dict:
    import tempfile

    from passage.packs.institutional.report.annual import render_annual
    from passage.store import open_store

    with tempfile.TemporaryDirectory(prefix="passage-bench-report-") as tmp, \
            open_store(str(Path(a.work) / "report.duckdb")) as store:
        html = Path(tmp) / "report.html"
        pdf = Path(tmp) / "report.pdf" if a.pdf else None
        t = _clock()
        r = render_annual(store, YEAR, html_path=html, pdf_path=pdf)
        out = _since(t)
        return {**out, "timings": r.timings, "figures": r.figure_count, "notes": len(r.notes),
                "failures": len(r.failures), "html_bytes": html.stat().st_size,
                "pdf_bytes": pdf.stat().st_size if pdf else None, "pdf_pages": r.pdf_pages}


def _annex2_answer(rows) -> dict:
    return {f"{s}|{c}": [int(x) for x in rest] for s, c, *rest in rows if rest[-3]}


def task_staff_passage(a) -> dict:
    from passage.packs.staff.reference import annexes
    from passage.packs.staff.tables import staff_tables
    from passage.store import open_store

    with open_store(str(Path(a.work) / "report.duckdb")) as store:
        runs = []
        for _ in range(a.repeat):
            t = time.perf_counter()
            tables = staff_tables(store, YEAR)
            runs.append(time.perf_counter() - t)
    t2 = tables["annex2_general_service"]
    return {"runs": runs, "grades": annexes()["annex2_general_service"]["grades"], "tables": len(tables),
            "answer": _annex2_answer(t2.rows), "rows": len(t2.rows)}


def task_staff_pandas(a) -> dict:
    import pandas as pd

    t = time.perf_counter()
    df = pd.read_csv(a.file, dtype=str)
    read = time.perf_counter() - t
    runs = []
    for _ in range(a.repeat):
        t = time.perf_counter()
        gs = df[df["category"] == "General Service"]
        keys = [gs["nationality_group"], gs["nationality"]]
        ct = pd.crosstab(keys, gs["grade"]).reindex(columns=a.grades.split(","), fill_value=0)
        ct["total"] = ct.sum(axis=1)
        sex = pd.crosstab(keys, gs["sex"])
        for col, s in (("female", "F"), ("male", "M")):
            ct[col] = sex.get(s, 0)
        runs.append(time.perf_counter() - t)
    rows = [(g, n, *vals) for (g, n), vals in zip(ct.index, ct.itertuples(index=False))]
    return {"read_seconds": read, "runs": runs, "answer": _annex2_answer(rows), "rows": len(rows)}


TASKS = {"template": task_template, "ox-passage": task_ox_passage, "ox-pandas": task_ox_pandas,
         "ox-duckdb": task_ox_duckdb, "status-build": task_status_build, "status-call": task_status_call,
         "status-pandas": task_status_pandas, "acaps-passage": task_acaps_passage, "acaps-pandas": task_acaps_pandas,
         "report-build": task_report_build, "report-render": task_report_render, "staff-passage": task_staff_passage,
         "staff-pandas": task_staff_pandas}


def child_main(a) -> int:
    result = TASKS[a.task](a)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps(result, default=str), flush=True)
    return 0


# ============================================================================================== parent


class Runner:
    """Runs child tasks one at a time, each in a fresh interpreter, after waiting for the machine to be idle."""

    def __init__(self, a):
        self.a = a
        self.waited = 0.0

    def __call__(self, task: str, label: str, **extra) -> dict:
        a = self.a
        load = os.getloadavg()[0]
        if a.wait_idle:
            t = time.time()
            budget = max(0.0, min(a.idle_timeout, a.idle_budget - self.waited))
            load = bench_run.wait_idle(a.idle_load, budget)
            self.waited += time.time() - t
        cmd = [sys.executable, str(Path(__file__).resolve()), "--task", task, "--work", str(a.work)]
        for k, v in extra.items():
            if v is not None and v is not False:
                cmd += [f"--{k.replace('_', '-')}"] + ([] if v is True else [str(v)])
        print(f"  {label:<34}", end="", flush=True)
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
        wall = time.perf_counter() - t0
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
        if proc.returncode != 0 or not lines:
            print(" FAILED")
            sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
            raise SystemExit(f"task {task} failed")
        out = json.loads(lines[-1][len("RESULT "):])
        out.update(process_seconds=wall, load_before=load, load_after=os.getloadavg()[0])
        secs = out.get("seconds")
        print(f" {secs:7.2f} s" if isinstance(secs, (int, float)) else f" done ({wall:.1f} s)",
              f" peak {out['peak_rss_mb']:,.0f} MB, load {load:.2f} -> {out['load_after']:.2f}", flush=True)
        return out


def _median_run(runs: list[dict]) -> dict:
    """The run with the median wall time (lower median), with every run's time and load beside it."""
    ordered = sorted(runs, key=lambda r: r["seconds"])
    mid = ordered[(len(ordered) - 1) // 2]
    return mid | {"all_seconds": [r["seconds"] for r in runs], "all_loads": [r["load_before"] for r in runs]}


def bench_oxcgrt(a, run: Runner, res: dict) -> None:
    files = {"wide": a.data / f"oxcgrt-c8-wide-{a.countries}x{WIDE_DAYS}.csv",
             "long": a.data / f"oxcgrt-nat-long-{a.national}.csv"}
    meta_path = a.data / f"oxcgrt-meta-{a.countries}-{a.national}.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() and not a.regenerate else {}
    for layout, path in files.items():
        if layout not in meta or not path.exists():
            t = time.perf_counter()
            meta[layout] = (generate_wide(path, a.countries) if layout == "wide" else generate_long(path, a.national))
            meta[layout]["generate_seconds"] = time.perf_counter() - t
            print(f"  generated {path.name} in {meta[layout]['generate_seconds']:.1f} s")
        meta[layout]["bytes"] = path.stat().st_size
        meta[layout]["file"] = str(path)
    meta_path.write_text(json.dumps(meta, indent=1))
    res["oxcgrt"] = {}
    for layout, path in files.items():
        runs: dict[str, list] = {"passage": [], "pandas": [], "duckdb": []}
        for _ in range(a.repeat):  # interleaved: the machine is shared
            for system, rs in runs.items():
                rs.append(run(f"ox-{system}", f"oxcgrt {layout} {system}", file=path, layout=layout))
        res["oxcgrt"][layout] = {"data": meta[layout], **{s: _median_run(r) for s, r in runs.items()}}
    res["_wide_file"] = str(files["wide"])


def bench_status(a, run: Runner, res: dict) -> None:
    wide = res["_wide_file"]
    out = {"build": run("status-build", "status store (oxcgrt wide + acaps)", file=wide), "dates": a.dates}
    for fn in ("daily", "daily-all", "compare", "headline"):
        out[fn] = run("status-call", f"status {fn}", fn=fn, dates=",".join(a.dates), repeat=a.call_repeat)
    out["pandas"] = run("status-pandas", "status pandas", file=wide, dates=",".join(a.dates), repeat=a.call_repeat)
    out["same_answer"] = out["daily"]["answers"] == out["pandas"]["answers"]
    res["status"] = out


def bench_acaps(a, run: Runner, res: dict) -> None:
    runs: dict[str, list] = {"passage": [], "pandas": []}
    for _ in range(a.acaps_repeat):
        for system, rs in runs.items():
            rs.append(run(f"acaps-{system}", f"acaps {system}", file=ACAPS_XLSX))
    res["acaps"] = {"bytes": ACAPS_XLSX.stat().st_size, **{s: _median_run(r) for s, r in runs.items()}}


def bench_report(a, run: Runner, res: dict) -> None:
    out = {"build": run("report-build", "report store (demo data)")}
    renders: dict[str, list] = {"html": [], "pdf": []}
    for _ in range(a.report_repeat):
        for kind, rs in renders.items():
            rs.append(run("report-render", f"annual report {kind}", pdf=kind == "pdf"))
    out.update({k: _median_run(r) for k, r in renders.items()})
    out["staff_passage"] = run("staff-passage", "staff_tables", repeat=a.call_repeat * 2)
    out["staff_pandas"] = run("staff-pandas", "staff pandas crosstab", file=REGISTER, repeat=a.call_repeat * 2,
                              grades=",".join(out["staff_passage"]["grades"]))
    out["same_answer"] = out["staff_passage"]["answer"] == out["staff_pandas"]["answer"]
    res["report"] = out


def machine() -> dict:
    import importlib.metadata as md

    m = bench_run.machine()
    for dist in ("openpyxl", "weasyprint", "pyarrow"):
        with contextlib.suppress(md.PackageNotFoundError):
            m[dist] = md.version(dist)
    return m


def run_all(a) -> dict:
    a.data.mkdir(parents=True, exist_ok=True)
    a.work.mkdir(parents=True, exist_ok=True)
    res = {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "machine": machine(),
           "settings": {k: getattr(a, k) for k in ("repeat", "acaps_repeat", "report_repeat", "call_repeat",
                                                   "countries", "national", "wait_idle", "idle_load", "quick")}}
    print("machine:", res["machine"])
    run = Runner(a)
    run("template", "store template (travel pack)")
    print("OxCGRT imports")
    bench_oxcgrt(a, run, res)
    print("daily status")
    bench_status(a, run, res)
    print("ACAPS")
    bench_acaps(a, run, res)
    print("annual report")
    bench_report(a, run, res)
    res["waited_seconds"] = run.waited
    res.pop("_wide_file", None)
    if not a.keep:
        shutil.rmtree(a.work, ignore_errors=True)
    return res


# ============================================================================================== report


def _s(x: float | None) -> str:
    if x is None:
        return "–"
    return f"{x * 1000:,.0f} ms" if x < 1 else bench_run._s(x)


def _size(b: float) -> str:
    return f"{b / 1e3:,.0f} kB" if b < 1e6 else bench_run._mb(b)


def _phases(r: dict) -> str:
    """Where an import's time went, by the pipeline's progress steps (setup: opening the import, pack check)."""
    return ", ".join(f"{k} {_s(v)}" for k, v in r.get("phases", {}).items())


def _cpu(r: dict) -> str:
    return bench_run._s(r["cpu_seconds"]) if "cpu_seconds" in r else ""


def _times(r: dict) -> str:
    return ", ".join(_s(x) for x in r["all_seconds"])


def _ratio(p: float, b: float) -> str:
    """Passage's time over the baseline's, and the plain-words reading of it."""
    if not b:
        return "–"
    x = p / b
    return f"{x:.2f} ({1 / x:.1f}x faster)" if x < 1 else f"{x:.2f} ({x:.1f}x slower)"


def _loads(*runs: dict) -> str:
    loads = [x for r in runs for x in r.get("all_loads", [r.get("load_before", 0)])]
    return f"{min(loads):.2f}" if f"{min(loads):.2f}" == f"{max(loads):.2f}" else f"{min(loads):.2f}–{max(loads):.2f}"


def _call_stats(r: dict) -> dict:
    every = [x for xs in r["runs"].values() for x in xs]
    first = next(iter(r["runs"].values()))[0]
    later = [x for d, xs in r["runs"].items() for i, x in enumerate(xs) if (d, i) != (next(iter(r["runs"])), 0)]
    return {"median": statistics.median(later or every), "min": min(every), "max": max(later or every),
            "first": first, "n": len(every)}


def section(res: dict, notes: str = "") -> str:
    m, st = res["machine"], res["settings"]
    L: list[str] = []
    w = L.append
    w(START)
    w("## Travel trackers and the annual report")
    w("")
    w("The travel pack's importers and status figures at OxCGRT's full published size and over the real ACAPS")
    w("workbook, and the annual report over its demo data, each against the way the same job is done without")
    w("Passage (pandas), measured in the same run. Generated by `bench/packs.py` (this section only); rerun with")
    w("")
    w("```")
    w("/work/venv/bin/python bench/packs.py --wait-idle --out docs/performance.md")
    w("```")
    w("")
    w("### Machine and data")
    w("")
    w(f"- Date: {res['date']}")
    w(f"- CPU: {m['cpu']}, {m['cores']} cores; RAM {m['ram_gb']} GB; {m['os']}")
    w(f"- Python {m['python']}, DuckDB {m['duckdb']}, pandas {m['pandas']}, pyarrow {m.get('pyarrow', '?')}, "
      f"openpyxl {m.get('openpyxl', '?')}, WeasyPrint {m.get('weasyprint', '?')}")
    w("- The machine is shared with other work. Each measurement runs in its own process"
      + (f", after waiting for the 1-minute load average to fall below {st['idle_load']:g} (at most "
         f"{a_idle(res)})" if st["wait_idle"] else "")
      + "; the load before each run is given. CPU seconds are those of the timed part (all threads).")
    ox = res["oxcgrt"]
    wd, ld = ox["wide"]["data"], ox["long"]["data"]
    w(f"- OxCGRT wide (generated, the layout of `c8_internationaltravel.csv`: unnamed index column, `country_code`,"
      f" `country_name`, a column per day, a trailing blank column, CRLF): {wd['countries']} countries x "
      f"{wd['days']:,} days (01Jan2020–20Feb2023), {wd['cells']:,} cells of which {wd['blank']:,} blank "
      f"({wd['blank'] / wd['cells']:.1%}), levels 0–4 in runs; {_size(wd['bytes'])}.")
    w(f"- OxCGRT long (generated, the columns of `OxCGRT_nat_latest.csv`): {ld['rows']:,} rows x {ld['columns']} "
      f"columns, {ld['countries']} countries x {ld['days']:,} days as NAT_TOTAL rows plus {ld['state_rows']:,} "
      f"STATE_TOTAL rows, `Date` as YYYYMMDD, values like `3.0`; C8EV for every country (~8 % blank), C8NV and C8V "
      f"from June 2021 for 30 % of them: {ld['levels']:,} national C8 cells; {_size(ld['bytes'])}.")
    ac = res["acaps"]
    w(f"- ACAPS: the real workbook `acaps_covid19_government_measures_dataset.xlsx` ({bench_run._mb(ac['bytes'])}; "
      f"{ac['pandas']['records']:,} rows x {ac['pandas']['columns']} columns in its `Dataset` sheet).")
    rb = res["report"]["build"]
    w(f"- Annual report: the demo data of `tests/test_reports.py` (DTM demo, 30 rounds; the finance demo CSV; the "
      f"staff register `staff_register_2020.csv`, {rb['staff']:,} staff; the questionnaire's demo offices and "
      f"answers), built in {_s(rb['seconds'])} ("
      + ", ".join(f"{k} {_s(v)}" for k, v in rb["parts"].items()) + ").")
    w("")
    w("### Method")
    w("")
    w("- **passage** imports: `passage.ingest.import_files(store, KIND, [file])` into a copy of a DuckDB store with")
    w("  the travel pack installed (outside the timing); the time runs to the store's close (checkpoint). Every")
    w("  check the import makes is included: header and layout, date columns, levels 0–4, country codes,")
    w("  duplicate keys, dates not in the future; records loaded with versions and provenance, file archived.")
    w("- **pandas**: the same job without validation. OxCGRT: `read_csv`, `melt`, blanks dropped, dates parsed,")
    w("  national rows only (long), the level mapped to the status scale, written to Parquet. ACAPS:")
    w("  `pandas.read_excel(sheet_name=\"Dataset\")`, reading alone.")
    w("- **DuckDB floor**: `CREATE TABLE AS SELECT ... FROM (UNPIVOT (SELECT * FROM read_csv(file)) ON COLUMNS(...))`")
    w("  with typed dates and levels, into a fresh DuckDB file: what getting the levels into a table costs at least.")
    w(f"- Imports run interleaved, {st['repeat']} run(s) of each (ACAPS {st['acaps_repeat']}, report renders "
      f"{st['report_repeat']}); the tables give the median run (the faster of the middle two for an even count); all runs are listed below.")
    w(f"- Status calls: over a store holding the wide file and ACAPS (both imported by Passage), "
      f"{st['call_repeat']} calls per date at {len(res['status']['dates'])} dates "
      f"({', '.join(res['status']['dates'])}); the median leaves out the process's very first call, shown "
      "apart (cold: first statements, caches). pandas: the melted frame built from the CSV once (its time is "
      "given), then per date a filter and a lookup for every covered country.")
    w("- Peak RSS: `ru_maxrss` of the process doing the work (Python and libraries included).")
    w("")
    w("### OxCGRT import")
    w("")
    w("| file | system | wall | CPU | records | rate | peak RSS | output | time / pandas | load before |")
    w("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for layout in ("wide", "long"):
        o = ox[layout]
        p, pd_, dk = o["passage"], o["pandas"], o["duckdb"]
        label = {"wide": "wide C8", "long": "long national"}[layout]
        for name, r, outb in (("passage import", p, f"{_size(p['store_bytes'])} store + archive"),
                              ("pandas (no validation)", pd_, f"{_size(pd_['output_bytes'])} Parquet"),
                              ("DuckDB read_csv + UNPIVOT (floor)", dk, f"{_size(dk['store_bytes'])}")):
            ratio = _ratio(r["seconds"], pd_["seconds"]) if r is not pd_ else "1"
            w(f"| {label} | {name} | {_s(r['seconds'])} | {_cpu(r)} | {r['records']:,} | "
              f"{bench_run._rate(r['records'], r['seconds'])} | {r['peak_rss_mb']:,.0f} MB | {outb} | {ratio} | "
              f"{_loads(r)} |")
    w("")
    for layout in ("wide", "long"):
        o = ox[layout]
        p = o["passage"]
        same = p["records"] == o["pandas"]["records"] == o["duckdb"]["records"]
        w(f"- {layout}: passage {p['status']}, {p['records']:,} records, {p['errors']} errors, {p['warnings']} "
          f"warnings{' (' + ', '.join(p['findings']) + ')' if p['findings'] else ''}; same record count in all three: "
          f"{'yes' if same else '**no**'}. Import vs DuckDB's floor: {_ratio(p['seconds'], o['duckdb']['seconds'])}."
          f" Runs: passage {_times(p)}; pandas {_times(o['pandas'])}; DuckDB {_times(o['duckdb'])}."
          + (f" The passage run above by step: {_phases(p)}." if p.get("phases") else ""))
    stt = res["status"]
    w("")
    w("### Daily status, comparison, headline")
    w("")
    b = stt["build"]
    w(f"Store: {b['levels']:,} level records and {b['measures']:,} ACAPS measures (imported in {_s(b['seconds'])}).")
    w("")
    w("| call | median | min | max | first call in process | calls | peak RSS | median / pandas |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|")
    pst = _call_stats(stt["pandas"])
    labels = {"daily": "`daily_status(store, day, source=\"oxcgrt\")`",
              "daily-all": "`daily_status(store, day)` (OxCGRT and ACAPS)",
              "compare": "`compare(store, day, \"oxcgrt,acaps\")`", "headline": "`headline(store, day)`"}
    for fn, label in labels.items():
        s = _call_stats(stt[fn])
        ratio = _ratio(s["median"], pst["median"]) if fn == "daily" else ""
        w(f"| {label} | {_s(s['median'])} | {_s(s['min'])} | {_s(s['max'])} | {_s(s['first'])} | {s['n']} | "
          f"{stt[fn]['peak_rss_mb']:,.0f} MB | {ratio} |")
    w(f"| pandas: filter the melted frame, map to status | {_s(pst['median'])} | {_s(pst['min'])} | "
      f"{_s(pst['max'])} | {_s(pst['first'])} | {pst['n']} | {stt['pandas']['peak_rss_mb']:,.0f} MB | 1 |")
    w("")
    first_day = stt["dates"][0]
    n_cov = len(stt["daily"]["answers"][first_day])
    w(f"- Same answer (status of each of the {n_cov} covered countries, OxCGRT, every date): "
      f"{'**yes**' if stt['same_answer'] else '**no**'}. pandas built its frame in "
      f"{_s(stt['pandas']['load_seconds'])} first; the store was opened in {_s(stt['daily']['open_seconds'])}.")
    cmp_ = stt["compare"]["answers"]
    w("- compare (the OxCGRT levels are generated, so agreement with ACAPS says nothing about the trackers; it "
      "shows the call ran over every country both cover), countries / agreeing / kappa: "
      + "; ".join(f"{d} {v['countries']} / {v['agreed']} / "
                  + (f"{v['kappa']:.2f}" if v["kappa"] is not None else "–") for d, v in cmp_.items()) + ".")
    w("")
    w("### ACAPS import (real workbook)")
    w("")
    w("| system | wall | CPU | rows | rate | peak RSS | time / pandas | load before |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|")
    ap, apd = ac["passage"], ac["pandas"]
    w(f"| passage import | {_s(ap['seconds'])} | {_cpu(ap)} | {ap['records']:,} | "
      f"{bench_run._rate(ap['records'], ap['seconds'])} | {ap['peak_rss_mb']:,.0f} MB | "
      f"{_ratio(ap['seconds'], apd['seconds'])} | {_loads(ap)} |")
    w(f"| pandas `read_excel` (reading alone) | {_s(apd['seconds'])} | {_cpu(apd)} | {apd['records']:,} | "
      f"{bench_run._rate(apd['records'], apd['seconds'])} | {apd['peak_rss_mb']:,.0f} MB | 1 | {_loads(apd)} |")
    w("")
    w(f"- passage: {ap['status']}, {ap['records']:,} measures, {ap['errors']} errors, {ap['warnings']} warnings"
      f"{' (' + ', '.join(ap['findings']) + ')' if ap['findings'] else ''}. Runs: passage {_times(ap)}; "
      f"pandas {_times(apd)}." + (f" The passage run above by step: {_phases(ap)}." if ap.get("phases") else ""))
    rp = res["report"]
    w("")
    w("### Annual report")
    w("")
    w("| run | wall | CPU | of which: collect figures | HTML | PDF | peak RSS | output | load before |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for kind, label in (("html", "`render_annual` HTML only"), ("pdf", "`render_annual` HTML + PDF")):
        r = rp[kind]
        t = r["timings"]
        outp = f"{r['html_bytes'] / 1e3:,.0f} kB HTML" + (
            f", {r['pdf_bytes'] / 1e3:,.0f} kB PDF ({r['pdf_pages']} pages)" if r.get("pdf_bytes") else "")
        w(f"| {label} | {_s(r['seconds'])} | {_cpu(r)} | {_s(t.get('collect'))} | {_s(t.get('html'))} | "
          f"{_s(t.get('pdf'))} | {r['peak_rss_mb']:,.0f} MB | {outp} | {_loads(r)} |")
    sp, spd = rp["staff_passage"], rp["staff_pandas"]
    sps = {"median": statistics.median(sp["runs"][1:] or sp["runs"]), "first": sp["runs"][0]}
    pds = {"median": statistics.median(spd["runs"][1:] or spd["runs"]), "first": spd["runs"][0]}
    w("")
    w(f"- Report: {rp['html']['figures']} figures, {rp['html']['notes']} notes, {rp['html']['failures']} failed "
      f"consistency rules. Runs: HTML {_times(rp['html'])}; HTML + PDF {_times(rp['pdf'])}.")
    w("")
    w("| staff tables | median | first call | peak RSS | median / pandas |")
    w("|---|---:|---:|---:|---:|")
    w(f"| `staff_tables(store, 2020)` (all seven tables, from the store) | {_s(sps['median'])} | {_s(sps['first'])} |"
      f" {sp['peak_rss_mb']:,.0f} MB | {_ratio(sps['median'], pds['median'])} |")
    w(f"| pandas `crosstab` of Annex II (register already read: `read_csv` took {_s(spd['read_seconds'])}) | "
      f"{_s(pds['median'])} | {_s(pds['first'])} | {spd['peak_rss_mb']:,.0f} MB | 1 |")
    w("")
    w(f"- Same Annex II (every country with General Service staff: grades, total, women, men; {len(spd['answer'])} "
      f"rows): {'**yes**' if rp['same_answer'] else '**no**'}. `staff_tables` also lists the nationality list's "
      f"countries without staff ({sp['rows']} rows in Annex II) and builds Annex III and Annex I.")
    if notes.strip():
        w("")
        w(NOTES)
        w(notes.strip("\n"))
    w(END)
    return "\n".join(L)


def a_idle(res: dict) -> str:
    st = res["settings"]
    return f"{st.get('idle_timeout', 0):g} s each, {res.get('waited_seconds', 0):.0f} s waited in all"


def existing_notes(path: Path) -> str:
    if not path.exists():
        return ""
    text = path.read_text(encoding="utf-8")
    i, j = text.find(START), text.find(END)
    if i < 0 or j < i:
        return ""
    sec = text[i:j]
    k = sec.find(NOTES)
    return sec[k + len(NOTES):] if k >= 0 else ""


def write_section(path: Path, sec: str) -> None:
    """Replace the section between the markers, or add it before bench/serve.py's section (or at the end)."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    i, j = text.find(START), text.find(END)
    if i >= 0 and j > i:
        text = text[:i] + sec + text[j + len(END):]
    else:
        k = text.find("<!-- serve:start -->")
        if k >= 0:
            text = text[:k] + sec + "\n\n" + text[k:]
        else:
            text = text.rstrip("\n") + ("\n\n" if text else "") + sec + "\n"
    path.write_text(text, encoding="utf-8")


# ============================================================================================ main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Travel pack and annual report benchmarks, against pandas baselines.")
    ap.add_argument("--out", type=Path, default=None, help="write the section into this file (docs/performance.md)")
    ap.add_argument("--report-only", type=Path, default=None, metavar="JSON",
                    help="only rewrite the section of --out from a results file of bench/out/")
    ap.add_argument("--quick", action="store_true", help="small files, one run each: checks the script")
    ap.add_argument("--countries", type=int, default=None, help="countries of the wide file (default 187)")
    ap.add_argument("--national", type=int, default=None,
                    help="countries with NAT_TOTAL rows in the long file (default 170: ~200,000 rows in all)")
    ap.add_argument("--repeat", type=int, default=None, help="runs of each OxCGRT import (default 5)")
    ap.add_argument("--acaps-repeat", type=int, default=None, help="runs of each ACAPS read (default 3)")
    ap.add_argument("--report-repeat", type=int, default=None, help="renders of each report kind (default 3)")
    ap.add_argument("--call-repeat", type=int, default=3, help="status calls per date")
    ap.add_argument("--dates", nargs="+", default=DATES, help="days of the status calls (YYYY-MM-DD)")
    ap.add_argument("--data", type=Path, default=BENCH / "data", help="where the generated files are kept")
    ap.add_argument("--work", type=Path, default=BENCH / "data" / "work" / "packs", help="stores made by the runs")
    ap.add_argument("--regenerate", action="store_true", help="rewrite the generated files")
    ap.add_argument("--keep", action="store_true", help="keep the stores in --work")
    ap.add_argument("--wait-idle", action="store_true", help="wait for the load average to fall before each run")
    ap.add_argument("--idle-load", type=float, default=1.0)
    ap.add_argument("--idle-timeout", type=float, default=120.0, help="longest wait before one run (seconds)")
    ap.add_argument("--idle-budget", type=float, default=300.0, help="longest total wait over the whole run")
    # child options
    ap.add_argument("--task", choices=sorted(TASKS), help=argparse.SUPPRESS)
    ap.add_argument("--file", help=argparse.SUPPRESS)
    ap.add_argument("--layout", help=argparse.SUPPRESS)
    ap.add_argument("--fn", help=argparse.SUPPRESS)
    ap.add_argument("--pdf", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--grades", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.task:
        if isinstance(a.dates, list):
            a.dates = ",".join(a.dates)
        a.repeat = a.repeat or 1
        return child_main(a)
    quick = (20, 20, 1, 1, 1) if a.quick else (187, 170, 5, 3, 3)
    a.countries = a.countries or quick[0]
    a.national = a.national or quick[1]
    a.repeat = a.repeat or quick[2]
    a.acaps_repeat = a.acaps_repeat or quick[3]
    a.report_repeat = a.report_repeat or quick[4]
    if a.report_only:
        res = json.loads(a.report_only.read_text())
    else:
        t0 = time.perf_counter()
        res = run_all(a)
        res["settings"]["idle_timeout"] = a.idle_timeout
        res["total_seconds"] = time.perf_counter() - t0
        out_json = BENCH / "out" / f"packs-{datetime.now().strftime('%Y%m%d-%H%M%S')}.json"
        out_json.parent.mkdir(parents=True, exist_ok=True)
        out_json.write_text(json.dumps(res, indent=1, default=str))
        print(f"raw results: {out_json} ({res['total_seconds']:.0f} s in all, {res['waited_seconds']:.0f} s waiting)")
    if a.out:
        write_section(a.out, section(res, existing_notes(a.out)))
        print(f"wrote the packs section of {a.out}")
    else:
        print(section(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
