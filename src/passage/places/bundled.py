"""The places Passage ships: every ISO 3166 country, OCHA's global P-codes (admin 1-2) and P-code lengths.

A store gets them the first time it needs places (an import's checks, a places list, an editor's scopes, a
document's place tags), not when it is created: loading 33,363 P-codes costs 100-250 ms on DuckDB (read_csv
into a table with a primary key, then the checkpoint that writes them), and most stores the tests make never
read a place. Once loaded, a marker in `passage_meta` says so and the check is one lookup; places the store
already holds (its own `passage places import`) are kept, the bundled ones only fill in the codes it lacks.
"""

from __future__ import annotations

import csv
import io
from importlib import resources
from pathlib import Path

import pycountry

from passage.store import Store

PCODES_FILE = "global-pcodes-adm-1-2.csv"
LENGTHS_FILE = "global-pcode-lengths.csv"
SOURCE = "OCHA global P-codes"
MARKER = "places.bundled"  # passage_meta key: the bundled places were loaded once (by this file's sha256 prefix)
HOW_TO_LOAD = "passage places import global-pcodes-adm-1-2.csv --lengths global-pcode-lengths.csv"


def bundled_file(name: str) -> Path:
    """A file of `passage/places/data/` (installed with the package)."""
    return Path(str(resources.files("passage.places").joinpath("data", name)))


def loaded(store: Store) -> bool:
    return store.scalar("SELECT value FROM passage_meta WHERE key = ?", [MARKER]) is not None


def ensure_places(store: Store) -> bool:
    """Give the store the bundled places unless it had them once; True when they were loaded now."""
    if loaded(store):
        return False
    try:
        with store.transaction():
            if store.dialect == "postgres":  # two first uses at once: the second waits, then finds the marker
                store.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.places.bundled'))")
            if loaded(store):
                return False
            _load(store)
            store.execute("INSERT INTO passage_meta (key, value) VALUES (?, ?)", [MARKER, PCODES_FILE])
    except Exception:
        if loaded(store):  # another thread of this process loaded them meanwhile (DuckDB's write conflict)
            return False
        raise
    return True


def _country_rows() -> list[tuple]:
    return [(c.alpha_3, 0, "admin0", getattr(c, "common_name", None) or c.name, None, c.alpha_3, None, "ISO 3166")
            for c in pycountry.countries]


def _pcode_rows() -> list[tuple]:
    text = bundled_file(PCODES_FILE).read_text(encoding="utf-8-sig")
    out = []
    for r in csv.DictReader(io.StringIO(text)):
        if r["Location"].startswith("#"):
            continue
        level = int(r["Admin Level"])
        out.append((r["P-Code"].strip().upper(), level, f"admin{level}", r["Name"].strip(),
                    r["Parent P-Code"].strip().upper() or None, r["Location"].strip().upper(),
                    r["Valid from date"] or None, SOURCE))
    return out


def _load(store: Store) -> None:
    from passage.places.gazetteer import _bulk

    store.execute("CREATE TEMP TABLE _bundled_places (code VARCHAR, level INTEGER, kind VARCHAR, name VARCHAR, "
                  "parent_code VARCHAR, country_code VARCHAR, valid_from DATE, source VARCHAR)")
    try:
        _bulk(store, "_bundled_places", _country_rows())
        if store.dialect == "duckdb":  # DuckDB reads the CSV itself, without a Python row per place
            store.execute(
                "INSERT INTO _bundled_places SELECT upper(trim(\"P-Code\")), CAST(\"Admin Level\" AS INTEGER), "
                "'admin' || trim(\"Admin Level\"), trim(\"Name\"), nullif(upper(trim(\"Parent P-Code\")), ''), "
                "upper(trim(\"Location\")), TRY_CAST(\"Valid from date\" AS DATE), ? FROM read_csv(?, header = true, "
                "auto_detect = false, delim = ',', quote = '\"', escape = '\"', columns = {'Location': 'VARCHAR', "
                "'Admin Level': 'VARCHAR', 'P-Code': 'VARCHAR', 'Name': 'VARCHAR', 'Parent P-Code': 'VARCHAR', "
                "'Valid from date': 'VARCHAR'}) WHERE NOT starts_with(\"Location\", '#')",
                [SOURCE, str(bundled_file(PCODES_FILE))])
        else:
            _bulk(store, "_bundled_places", _pcode_rows())
        store.execute("INSERT INTO places SELECT * FROM _bundled_places b "
                      "WHERE NOT EXISTS (SELECT 1 FROM places p WHERE p.code = b.code)")
    finally:
        store.execute("DROP TABLE _bundled_places")
    if not store.scalar("SELECT count(*) FROM pcode_lengths"):
        from passage.places.gazetteer import LENGTH_COLUMNS, _read_hxl_csv

        records, _ = _read_hxl_csv(bundled_file(LENGTHS_FILE), LENGTH_COLUMNS)
        _bulk(store, "pcode_lengths", [
            (r["Location"].strip().upper(), int(r["Country Length"] or 0), r["Admin 1 Length"] or None,
             r["Admin 2 Length"] or None, r["Admin 3 Length"] or None) for r in records])
