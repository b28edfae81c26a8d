"""Loading and listing places.

The OCHA global P-code table is read with libhxl's conventions in mind (a BOM, a
header, then a hashtag row) but parsed by hand: it is one small, fixed layout.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pycountry

from passage.findings import Finding, Outcome, Report
from passage.places.bundled import ensure_places
from passage.store import Store
from passage.store.schema import bump_generation

PCODE_COLUMNS = ["Location", "Admin Level", "P-Code", "Name", "Parent P-Code", "Valid from date"]
LENGTH_COLUMNS = ["Location", "Country Length", "Admin 1 Length", "Admin 2 Length", "Admin 3 Length"]


def _read_hxl_csv(path: Path, required: list[str]) -> tuple[list[dict], Report]:
    report = Report()
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        report.add(Finding("encoding", f"not UTF-8 at byte {exc.start}", file=name))
        return [], report
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        report.add(Finding("file-empty", "no header", file=name))
        return [], report
    header = [h.strip() for h in rows[0]]
    for col in required:
        if col not in header:
            report.add(Finding("column-missing", f"column {col!r} is missing", file=name, row=1, column=col))
    if not report.ok:
        return [], report
    body = rows[1:]
    if body and body[0] and body[0][0].startswith("#"):
        body = body[1:]
    else:
        report.add(Finding("hxl-row-missing", "row 2 should hold HXL hashtags", file=name, row=2))
        return [], report
    return [dict(zip(header, r)) | {"_row": i + 3} for i, r in enumerate(body) if any(r)], report


def import_countries(store: Store) -> int:
    """Every ISO 3166 country as an admin0 place (code = alpha-3)."""
    ensure_places(store)
    rows = [(c.alpha_3, 0, "admin0", getattr(c, "common_name", None) or c.name, None, c.alpha_3, None, "ISO 3166")
            for c in pycountry.countries]
    with store.transaction():
        existing = {r[0] for r in store.query("SELECT code FROM places WHERE level = 0")}
        new = [r for r in rows if r[0] not in existing]
        for r in new:
            store.execute("INSERT INTO places VALUES (?, ?, ?, ?, ?, ?, ?, ?)", r)
    return len(new)


def import_pcodes(store: Store, path: Path) -> Outcome[int]:
    """Load OCHA's global P-code table (admin 1-2); replaces what it had for the same codes. The outcome's
    value is the number of P-codes; a bad file changes nothing and its report says where."""
    records, report = _read_hxl_csv(path, PCODE_COLUMNS)
    if not report.ok:
        return Outcome(report)
    out = []
    for r in records:
        try:
            level = int(r["Admin Level"])
        except ValueError:
            report.add(Finding("type-integer", "admin level must be a whole number", file=str(path),
                               row=r["_row"], column="Admin Level", value=r["Admin Level"]))
            continue
        out.append((r["P-Code"].strip().upper(), level, f"admin{level}", r["Name"].strip(),
                    r["Parent P-Code"].strip().upper() or None, r["Location"].strip().upper(),
                    r["Valid from date"] or None, "OCHA global P-codes"))
    if not report.ok:
        return Outcome(report)
    import_countries(store)  # and the bundled places first, which this file then replaces or extends
    with store.transaction():
        codes = [(o[0],) for o in out]
        store.execute("CREATE TEMP TABLE IF NOT EXISTS _incoming_codes (code VARCHAR)")
        store.execute("DELETE FROM _incoming_codes")
        _bulk(store, "_incoming_codes", codes)
        store.execute("DELETE FROM places WHERE code IN (SELECT code FROM _incoming_codes)")
        _bulk(store, "places", out)
        store.execute("DROP TABLE _incoming_codes")
        bump_generation(store)  # place names and levels are in kept answers
    return Outcome(report, len(out))


def import_lengths(store: Store, path: Path) -> Outcome[int]:
    """Load OCHA's P-code length table (country prefix and digits per admin level). The outcome's value is the
    number of countries; a bad file changes nothing and its report says where."""
    records, report = _read_hxl_csv(path, LENGTH_COLUMNS)
    if not report.ok:
        return Outcome(report)
    out = []
    for r in records:
        length = (r["Country Length"] or "0").strip()
        if not length.isdigit():
            report.add(Finding("type-integer", "a country's P-code prefix length is a whole number", file=str(path),
                               row=r["_row"], column="Country Length", value=length))
            continue
        out.append((r["Location"].strip().upper(), int(length), r["Admin 1 Length"] or None,
                    r["Admin 2 Length"] or None, r["Admin 3 Length"] or None))
    if not report.ok:
        return Outcome(report)
    ensure_places(store)
    with store.transaction():
        store.execute("DELETE FROM pcode_lengths")
        _bulk(store, "pcode_lengths", out)
        bump_generation(store)
    return Outcome(report, len(out))


def _bulk(store: Store, table: str, rows: list[tuple]) -> None:
    if not rows:
        return
    if store.dialect == "duckdb":
        import pyarrow as pa

        cols = list(zip(*rows))
        tbl = pa.table({f"c{i}": pa.array(c) for i, c in enumerate(cols)})
        store.con.register("_bulk_rows", tbl)
        try:
            store.execute(f"INSERT INTO {table} SELECT * FROM _bulk_rows")
        finally:
            store.con.unregister("_bulk_rows")
    else:
        with store.conn.cursor() as cur, cur.copy(f"COPY {table} FROM STDIN") as copy:
            for r in rows:
                copy.write_row(r)


def list_places(store: Store, level: int | None = None, country: str | None = None) -> list[tuple]:
    """(code, level, name, parent_code, country_code), ordered by code."""
    ensure_places(store)
    sql = "SELECT code, level, name, parent_code, country_code FROM places WHERE 1=1"
    params: list = []
    if level is not None:
        sql += " AND level = ?"
        params.append(level)
    if country:
        sql += " AND country_code = ?"
        params.append(country.upper())
    return store.query(sql + " ORDER BY code", params)


def find_places(store: Store, *, country: str | None = None, level: int | None = None, q: str | None = None,
                cursor: str | None = None, limit: int = 100) -> tuple[list[dict], str | None]:
    """One page of places by code, filtered by country, level and a name or code prefix; with the cursor of
    the next page (None on the last)."""
    from passage.query import decode_cursor, encode_cursor

    ensure_places(store)
    where, params = ["1=1"], []
    if country:
        where.append("country_code = ?")
        params.append(country.upper())
    if level is not None:
        where.append("level = ?")
        params.append(level)
    if q:
        where.append("(lower(name) LIKE ? OR lower(code) LIKE ?)")
        params += [f"%{q.lower()}%", f"{q.lower()}%"]
    if cursor:
        where.append("code > ?")
        params.append(decode_cursor(cursor))
    names, rows = store.columns(
        "SELECT code, level, kind, name, parent_code, country_code FROM places WHERE " + " AND ".join(where)
        + " ORDER BY code LIMIT ?", [*params, limit + 1])
    out = [dict(zip(names, r)) for r in rows]
    more = len(out) > limit
    out = out[:limit]
    return out, (encode_cursor(out[-1]["code"]) if more else None)
