"""The baseline: what an information-management officer would write without Passage.

libhxl reads the HDX CSV (header + HXL hashtag row) and validates it against an HXL
schema (required fields, numbers, non-negative ranges); pandas does what libhxl
cannot do well or at all: dates and future dates, males + females <= total, P-code
normalisation (ISO2 -> ISO3 prefixes, as DTM codes Chad), unknown codes, codes at the
wrong level or under the wrong parent, name mismatches (warnings) and duplicate keys
(with displacement reasons normalised: case, order, `; `). The validated, typed frame
is written to Parquet.

The checks are the same as `passage import dtm` runs, written the efficient pandas way
(vectorised, per-unique-value mappings), so the comparison is not against a strawman.
libhxl's own `date` datatype check (dateutil per cell, ~5x slower than the rest of the
schema together) is left to pandas for the same reason.

    python bench/pandas_hxl.py FILE.csv [--hxl-max-rows N] [--out out.parquet]
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import sys
import tempfile
import time
import unicodedata
from datetime import date
from pathlib import Path

HXL_RULES = [
    ["#valid_tag", "#valid_required", "#valid_datatype", "#valid_value+min", "#valid_value+max"],
    ["#operation+name", "true", "", "", ""],
    ["#country+code", "true", "", "", ""],
    ["#adm+level", "", "number", "0", "2"],
    ["#affected+idps-m-f", "true", "number", "0", ""],
    ["#affected+idps+m", "", "number", "0", ""],
    ["#affected+idps+f", "", "number", "0", ""],
    ["#date+reported-year-month", "true", "", "", ""],
    ["#date+year+reported", "", "number", "1990", "2100"],
    ["#date+month+reported", "", "number", "1", "12"],
    ["#round+code", "true", "number", "0", ""],
]
KEY = ["level", "place", "operation", "assessmentType", "round", "date", "reason"]
NUMBERS = ["adminLevel", "numPresentIdpInd", "yearReportingDate", "monthReportingDate", "roundNumber", "numberMales",
           "numberFemales"]
MISSING = {"not available", "n/a", "na", "unknown", "-"}


# The same schema with libhxl also checking the reporting date's type (dateutil on every cell): the way an
# HXL schema would naturally be written, measured as a variant on a prefix of the file.
HXL_RULES_WITH_DATES = [r if r[0] != "#date+reported-year-month" else [r[0], "true", "date", "", ""]
                        for r in HXL_RULES]


def libhxl_phase(path: Path, max_rows: int | None, rules: list[list[str]] = HXL_RULES) -> dict:
    """HXL schema validation of the whole file (or of its first `max_rows` rows)."""
    import hxl

    errors: list = []
    source_path = path
    tmp = None
    if max_rows is not None:
        tmp = tempfile.NamedTemporaryFile("wb", suffix=".csv", delete=False, dir=path.parent)
        with path.open("rb") as src:
            tmp.writelines(itertools.islice(src, max_rows + 2))
        tmp.close()
        source_path = Path(tmp.name)
    try:
        t0 = time.perf_counter()
        schema = hxl.schema(hxl.data(rules), callback=errors.append)
        ok = schema.validate(hxl.data(str(source_path), hxl.InputOptions(allow_local=True)))
        seconds = time.perf_counter() - t0
    finally:
        if tmp is not None:
            Path(tmp.name).unlink()
    return {"seconds": seconds, "valid": bool(ok), "errors": len(errors), "rows": max_rows}


def _norm_name(s: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", s or "").lower() if c.isalnum())


def _norm_reason(s) -> str:
    if not isinstance(s, str):
        return ""
    return "; ".join(sorted(p.strip() for p in s.lower().split(";") if p.strip()))


def load_places(pcodes: Path, lengths: Path):
    import pandas as pd

    p = pd.read_csv(pcodes, skiprows=[1], dtype=str, encoding="utf-8-sig", keep_default_na=False)
    places = {c: (int(lv), name, parent) for c, lv, name, parent in
              zip(p["P-Code"], p["Admin Level"], p["Name"], p["Parent P-Code"])}
    ln = pd.read_csv(lengths, skiprows=[1], dtype=str, encoding="utf-8-sig", keep_default_na=False)
    prefix_len = {iso3: int(n) for iso3, n in zip(ln["Location"], ln["Country Length"]) if n}
    return places, prefix_len


def pandas_phase(path: Path, places: dict, prefix_len: dict, out: Path | None) -> dict:
    import pandas as pd
    import pycountry

    t = {}
    t0 = time.perf_counter()
    # let pandas infer types (3x faster than reading everything as text); a bad cell leaves its column as text
    # and is caught by to_numeric below
    text = ["operation", "admin0Name", "admin0Pcode", "admin1Name", "admin1Pcode", "admin2Name", "admin2Pcode",
            "reportingDate", "displacementReason", "idpOriginAdmin1Name", "idpOriginAdmin1Pcode", "assessmentType"]
    df = pd.read_csv(path, skiprows=[1], dtype={c: str for c in text}, keep_default_na=False, na_values=[""])
    t["read_csv"] = time.perf_counter() - t0
    errors: dict[str, int] = {}
    warnings: dict[str, int] = {}

    def count(bucket, code, mask):
        n = int(mask.sum())
        if n:
            bucket[code] = bucket.get(code, 0) + n

    t1 = time.perf_counter()
    nums = {}
    for c in NUMBERS:
        nums[c] = pd.to_numeric(df[c], errors="coerce")
        count(errors, "type-integer", df[c].notna() & (nums[c].isna() | (nums[c] % 1 != 0)))
    for c in ("numPresentIdpInd", "numberMales", "numberFemales"):
        count(errors, "negative-count", nums[c] < 0)
    for c in ("operation", "admin0Pcode", "numPresentIdpInd", "reportingDate", "roundNumber"):
        count(errors, "required", df[c].isna())
    when = pd.to_datetime(df["reportingDate"].str.slice(0, 10), format="%Y-%m-%d", errors="coerce")
    count(errors, "type-date", df["reportingDate"].notna() & when.isna())
    count(errors, "future-date", when > pd.Timestamp(date.today()))
    parts = nums["numberMales"].fillna(0) + nums["numberFemales"].fillna(0)
    count(errors, "sex-exceeds-total", parts > nums["numPresentIdpInd"])
    t["types_ranges_dates"] = time.perf_counter() - t1

    # P-codes: resolve each distinct code once, then map
    t2 = time.perf_counter()

    def resolve(iso3: str, code: str, level: int) -> tuple[str | None, bool]:
        if code in places:
            return code, False
        m = re.match(r"^([A-Za-z]{2,3})(\d+)$", code)
        if not m:
            return None, False
        want = prefix_len.get(iso3, len(m.group(1)))
        country = pycountry.countries.get(alpha_3=iso3)
        if country is None:
            return None, False
        new = (country.alpha_2 if want == 2 else country.alpha_3) + m.group(2)
        if new in places and places[new][0] == level:
            return new, True
        return None, False

    level = nums["adminLevel"].fillna(0).astype(int)
    level_of = {c: v[0] for c, v in places.items()}
    parent_of = {c: v[2] for c, v in places.items()}
    name_of = {c: _norm_name(v[1]) for c, v in places.items()}
    norm = {}
    for col, lv in (("admin1Pcode", 1), ("admin2Pcode", 2), ("idpOriginAdmin1Pcode", 1)):
        codes = df[col].where(~df[col].str.lower().isin(MISSING))
        keys = df["admin0Pcode"] + "|" + codes  # NaN where there is no code
        mapping, renamed = {}, {}
        for key in keys.dropna().unique():
            iso3, code = key.split("|", 1)
            mapping[key], renamed[key] = resolve(iso3, code, lv)
        resolved = keys.map(mapping)
        count(errors, "pcode-unknown", codes.notna() & resolved.isna())
        count(errors, "pcode-wrong-level", resolved.notna() & (resolved.map(level_of) != lv))
        count(warnings, "pcode-length", keys.map(renamed).fillna(False).astype(bool))
        norm[col] = resolved
    count(errors, "pcode-unknown", ~df["admin0Pcode"].isin({p.alpha_3 for p in pycountry.countries}))
    parent2 = norm["admin2Pcode"].map(parent_of)
    count(errors, "pcode-parent-mismatch", norm["admin2Pcode"].notna() & (parent2 != norm["admin1Pcode"]))
    parent1 = norm["admin1Pcode"].map(parent_of)
    count(errors, "pcode-parent-mismatch", norm["admin1Pcode"].notna() & (parent1 != df["admin0Pcode"]))
    for col, name in (("admin1Pcode", "admin1Name"), ("admin2Pcode", "admin2Name")):
        pair = norm[col] + "|" + df[name]
        verdict = {k: name_of[k.split("|", 1)[0]] != _norm_name(k.split("|", 1)[1]) for k in pair.dropna().unique()}
        count(warnings, "pcode-name-mismatch", pair.map(verdict).fillna(False).astype(bool))
    t["pcodes"] = time.perf_counter() - t2

    # keys: the level implied by the codes, the normalised place, the normalised reason
    t3 = time.perf_counter()
    reasons = df["displacementReason"]
    reason_map = {r: _norm_reason(r) for r in reasons.dropna().unique()}
    keyframe = pd.DataFrame({
        "level": level,
        "place": norm["admin2Pcode"].where(level == 2, norm["admin1Pcode"].where(level == 1, df["admin0Pcode"])),
        "operation": df["operation"], "assessmentType": df["assessmentType"], "round": nums["roundNumber"],
        "date": when, "reason": reasons.map(reason_map).fillna(""),
    })
    count(errors, "duplicate-key", keyframe.duplicated(subset=KEY, keep="first"))
    t["duplicates"] = time.perf_counter() - t3

    t4 = time.perf_counter()
    if out is not None:
        typed = df.drop(columns=NUMBERS + ["reportingDate", "displacementReason"]).assign(
            **{c: nums[c].astype("Int64") for c in NUMBERS}, reportingDate=when, displacementReason=keyframe["reason"],
            admin1Pcode=norm["admin1Pcode"], admin2Pcode=norm["admin2Pcode"], place=keyframe["place"])
        typed.to_parquet(out, index=False)
    t["write_parquet"] = time.perf_counter() - t4
    return {"seconds": time.perf_counter() - t0, "steps": t, "rows": len(df), "errors": errors, "warnings": warnings}


def run(path: Path, pcodes: Path, lengths: Path, hxl_max_rows: int | None = None, out: Path | None = None,
        dates_rows: int | None = 100_000) -> dict:
    rows = sum(1 for _ in path.open("rb")) - 2
    limit = hxl_max_rows if hxl_max_rows is not None and hxl_max_rows < rows else None
    hx = libhxl_phase(path, limit)
    hx["measured_rows"] = limit or rows
    hx["seconds_full"] = hx["seconds"] * (rows / hx["measured_rows"])  # linear: libhxl streams row by row
    places, prefix_len = load_places(pcodes, lengths)
    pd_ = pandas_phase(path, places, prefix_len, out)
    out_ = {"rows": rows, "libhxl": hx, "pandas": pd_,
            "seconds": hx["seconds_full"] + pd_["seconds"], "extrapolated": limit is not None}
    if dates_rows:
        n = min(dates_rows, rows)
        hd = libhxl_phase(path, n if n < rows else None, HXL_RULES_WITH_DATES)
        hd["measured_rows"] = n
        hd["seconds_full"] = hd["seconds"] * rows / n
        out_["libhxl_with_dates"] = hd
    return out_


def main(argv: list[str] | None = None) -> int:
    from passage.packs.dtm.demo import LENGTHS_FILE, PCODES_FILE, packaged_file

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("csv", type=Path)
    ap.add_argument("--hxl-max-rows", type=int, default=None)
    ap.add_argument("--pcodes", type=Path, default=packaged_file(PCODES_FILE))
    ap.add_argument("--lengths", type=Path, default=packaged_file(LENGTHS_FILE))
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args(argv)
    print(json.dumps(run(a.csv, a.pcodes, a.lengths, a.hxl_max_rows, a.out), indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
