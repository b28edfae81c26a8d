"""The bundled admin-1 boundaries: Natural Earth's states and provinces, the maps' default admin-1 layer.

Two files ship in `places/data/admin1/` (public domain; PROVENANCE.md there says where they come from and
what was changed):

- `admin1_focus7_pcoded.geojson`: Nigeria, South Sudan, Chad, Afghanistan, Haiti, Uganda and Italy, one
  feature per admin-1 unit as OCHA counts them, with OCHA's P-code (`pcode`) wherever one Natural Earth
  shape is one OCHA unit (Uganda's 4 regions and Italy's 20 regions dissolved from Natural Earth's
  districts and provinces);
- `ne_10m_admin1_world_simplified.topo.json`: every other country, simplified, keyed by Natural Earth's
  `adm1_code`; it carries P-codes only for the five countries the first file already has.

A country in the first file is drawn from it, any other from the second. `pcode_match.csv` is the
match table behind the P-codes, with a note for each OCHA unit that has no shape (South Sudan's Abyei,
Chad's Ennedi Est and Ennedi Ouest, which Natural Earth keeps as one Ennedi). Files are read on first
need and kept in memory; nothing is written to a store.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from passage.places.topojson import features as topo_features

DATA = Path(__file__).resolve().parent / "data" / "admin1"
WORLD_FILE = DATA / "ne_10m_admin1_world_simplified.topo.json"
FOCUS_FILE = DATA / "admin1_focus7_pcoded.geojson"
MATCH_FILE = DATA / "pcode_match.csv"
SOURCE = "Natural Earth admin-1 (public domain)"


@dataclass(frozen=True)
class Admin1Shape:
    """One bundled admin-1 shape: its OCHA P-code (None when no single OCHA unit matches it), Natural Earth's
    key (`adm1_code`, or the ISO 3166-2 code of a dissolved region), name, and GeoJSON geometry."""

    iso3: str
    pcode: str | None
    key: str
    name: str
    geometry: dict


@lru_cache(maxsize=1)
def _focus() -> dict[str, list[dict]]:
    doc = json.loads(FOCUS_FILE.read_text(encoding="utf-8"))
    out: dict[str, list[dict]] = {}
    for f in doc["features"]:
        out.setdefault(f["properties"]["iso3"], []).append(f)
    return out


@lru_cache(maxsize=1)
def _world() -> dict:
    return json.loads(WORLD_FILE.read_text(encoding="utf-8"))


@lru_cache(maxsize=256)
def admin1_shapes(iso3: str) -> tuple[Admin1Shape, ...]:
    """A country's bundled admin-1 shapes (empty when Natural Earth has none for it).

    >>> sorted(s.pcode for s in admin1_shapes("NGA"))[:2]
    ['NG001', 'NG002']
    """
    iso3 = iso3.strip().upper()
    if iso3 in _focus():
        return tuple(Admin1Shape(iso3, p.get("pcode") or None, p["boundary_key"], p.get("name") or p["boundary_key"],
                                 f["geometry"])
                     for f in _focus()[iso3] if f.get("geometry") for p in [f["properties"]])
    found = topo_features(_world(), "admin1", where=lambda p: p.get("iso3") == iso3)
    return tuple(Admin1Shape(iso3, p.get("pcode") or None, p["adm1_code"], p.get("name") or p["adm1_code"],
                             f["geometry"])
                 for f in found if f["geometry"] for p in [f["properties"]])


@lru_cache(maxsize=1)
def unmatched_notes() -> dict[str, str]:
    """{OCHA P-code: why it has no bundled shape}, from the match table."""
    with MATCH_FILE.open(encoding="utf-8", newline="") as fh:
        return {r["pcode"]: r["note"] for r in csv.DictReader(fh) if r["match_method"] == "none" and r["pcode"]}
