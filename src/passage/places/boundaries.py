"""Admin boundaries: the shapes the portal's maps colour, keyed by P-code.

They come from OCHA's COD-AB GeoJSON (`passage import boundaries FILE.geojson`): one
feature per admin area, with properties such as `ADM0_PCODE, ADM1_PCODE, ADM1_EN,
ADM2_PCODE, ADM2_EN`. A feature's level is its deepest P-code. Every code must be a
place Passage knows (normalised as the record imports do, so `TD07` finds `TCD07`),
and every geometry a polygon in degrees; otherwise nothing is stored and the report
says which feature and property. Shapes are simplified (about 200 m) and rounded to
5 decimals so a country page stays light, and stored as GeoJSON text, which both
backends hold without a spatial extension.

A map needs no import to start with: at admin 1, a country without imported shapes is drawn
from the bundled Natural Earth boundaries (`passage.places.natural_earth`), joined on P-codes;
at admin 2 and below, areas without shapes are points at their parent's centroid, never
invented shapes. `boundaries_geojson` says which places the map cannot show.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import pycountry
import shapely
from shapely.errors import ShapelyError
from shapely.geometry import mapping, shape

from passage.errors import NotFound
from passage.findings import Finding, Outcome, Report
from passage.ingest.files import SourceFile, copy_to_archive, describe, register
from passage.places import natural_earth
from passage.places.natural_earth import Admin1Shape, admin1_shapes
from passage.places.pcodes import PcodeResolver
from passage.store import Store
from passage.store.schema import bump_generation

NOT_GEOJSON = "boundary.not_geojson"
UNKNOWN_PCODE = "boundary.unknown_pcode"
BAD_GEOMETRY = "boundary.bad_geometry"
NO_PCODE = "boundary.no_pcode"
TOO_LARGE = "boundary.too_large"

SIMPLIFY_DEGREES = 0.002  # about 200 m: invisible at country scale, a tenth of the size of a COD-AB file
DECIMALS = 5  # about 1 m
IMPORT_KIND = "boundaries"

_PCODE_KEY = re.compile(r"^adm(?:in)?(\d)_?pcode$", re.IGNORECASE)
_NAME_KEY = re.compile(r"^adm(?:in)?(\d)_?(en|name|ref|[a-z]{2})$", re.IGNORECASE)
_NAME_PREFERENCE = ("EN", "NAME", "REF")  # then any other language (ADM1_FR, ADM1_PT, ...)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


# ------------------------------------------------------------------------------------------- reading


def _codes_and_names(props: dict) -> tuple[dict[int, tuple[str, str]], dict[int, str]]:
    """{level: (property name, P-code)} and {level: name} from a feature's properties, any spelling."""
    codes: dict[int, tuple[str, str]] = {}
    names: dict[int, dict[str, str]] = {}
    for key, value in props.items():
        if value is None or not str(value).strip():
            continue
        if m := _PCODE_KEY.match(key):
            codes[int(m.group(1))] = (key, str(value).strip().upper())
        elif m := _NAME_KEY.match(key):
            names.setdefault(int(m.group(1)), {})[m.group(2).upper()] = str(value).strip()
    best = {}
    for level, by_lang in names.items():
        pick = next((by_lang[k] for k in _NAME_PREFERENCE if k in by_lang), None)
        best[level] = pick or by_lang[min(by_lang)]
    return codes, best


def _iso3(code: str, adm0: str | None) -> str:
    """The ISO3 country of a P-code: COD-AB writes the country as ISO2 (`AF`) or ISO3 (`TCD`)."""
    prefix = adm0 or re.match(r"^[A-Z]*", code).group(0)
    prefix = prefix[:3] if len(prefix) >= 3 and pycountry.countries.get(alpha_3=prefix[:3]) else prefix[:2]
    if len(prefix) == 3:
        return prefix
    country = pycountry.countries.get(alpha_2=prefix) if len(prefix) == 2 else None
    return country.alpha_3 if country else prefix


def _check_coordinates(geom: Any) -> str | None:
    """Why a GeoJSON geometry is not a polygon with numeric coordinates in degrees, or None."""
    if not isinstance(geom, dict):
        return "no geometry"
    kind, coords = geom.get("type"), geom.get("coordinates")
    if kind not in ("Polygon", "MultiPolygon"):
        return f"geometry type {kind!r} is not Polygon or MultiPolygon"
    polygons = [coords] if kind == "Polygon" else coords
    if not isinstance(polygons, list) or not polygons:
        return "no coordinates"
    for poly in polygons:
        if not isinstance(poly, list) or not poly:
            return "a polygon without rings"
        for ring in poly:
            if not isinstance(ring, list) or len(ring) < 4:
                return "a ring with fewer than 4 positions"
            for pos in ring:
                if not isinstance(pos, list) or len(pos) < 2:
                    return "a position that is not [longitude, latitude]"
                x, y = pos[0], pos[1]
                if any(isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)
                       for v in (x, y)):
                    return f"a non-numeric coordinate {str(pos)[:40]}"
                if not (-180 <= x <= 180 and -90 <= y <= 90):
                    return f"coordinate {x}, {y} out of range (degrees expected: is the file projected?)"
    return None


def _polygonal(geom_json: dict) -> shapely.Geometry | None:
    """A valid shapely (Multi)Polygon, repairing self-intersections; None when nothing is left."""
    geom = shape(geom_json)
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
        parts = [g for g in getattr(geom, "geoms", [geom]) if g.geom_type in ("Polygon", "MultiPolygon")]
        geom = shapely.union_all(parts) if parts else None
    if geom is None or geom.is_empty or geom.area == 0:
        return None
    return geom


def _round(coords: Any) -> Any:
    if isinstance(coords, (list, tuple)) and coords and isinstance(coords[0], (int, float)):
        return [round(float(c), DECIMALS) for c in coords[:2]]
    return [_round(c) for c in coords]


def light_geojson(geom: shapely.Geometry) -> str:
    """Simplified, rounded GeoJSON text of a polygon, kept valid."""
    small = geom.simplify(SIMPLIFY_DEGREES, preserve_topology=True)
    snapped = shapely.set_precision(small, 10**-DECIMALS)
    if not snapped.is_empty:
        small = snapped
    g = mapping(small)
    if g["type"] == "GeometryCollection":  # set_precision may leave stray lines beside the polygons
        g = mapping(shapely.union_all([p for p in small.geoms if p.geom_type in ("Polygon", "MultiPolygon")]))
    return json.dumps({"type": g["type"], "coordinates": _round(g["coordinates"])}, separators=(",", ":"))


# ------------------------------------------------------------------------------------------- import


def import_boundaries(store: Store, path: Path, *, level: int | None = None, source: str | None = None,
                      user: str | None = None, max_bytes: int | None = None) -> Outcome[dict]:
    """Validate a COD-AB GeoJSON file and, only if every feature is good, store its shapes in one transaction.

    level: the admin level of every feature (default: each feature's deepest ADMn_PCODE).
    max_bytes: the largest file accepted (default: the store's `limits.upload_bytes.boundaries`).
    The outcome's value is {"import_id", "file", "features", "levels": {level: count}, "countries": [...],
    "replaced"}. A rejected file's report holds the located findings (row = feature number, column =
    property); the store's boundaries are then unchanged. The raw file is archived either way.
    """
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"no such file: {path}")
    report = Report()
    started = _now()
    name = path.name
    size = path.stat().st_size
    max_bytes = store.settings.limits.upload_bytes.boundaries if max_bytes is None else max_bytes
    if size > max_bytes:
        report.add(Finding(TOO_LARGE, f"{size} bytes is over the limit of {max_bytes}", file=name))
        _log(store, None, name, user, report, 0, started)
        return Outcome(report)
    f = describe(path)
    register(store, f, copy_to_archive(store.archive_dir, f))
    rows = _read(store, f, level, report)
    if not report.ok:
        _log(store, f, name, user, report, len(rows), started)
        return Outcome(report)

    imported_at = _now()
    source = source or name
    levels: dict[int, int] = {}
    with store.transaction():
        codes = list(rows)
        replaced = 0
        for i in range(0, len(codes), 500):
            chunk = codes[i:i + 500]
            marks = ", ".join("?" for _ in chunk)
            replaced += store.scalar(f"SELECT count(*) FROM boundaries WHERE code IN ({marks})", chunk)
            store.execute(f"DELETE FROM boundaries WHERE code IN ({marks})", chunk)
        for code, r in rows.items():
            store.execute(
                "INSERT INTO boundaries (code, level, country_code, name, geometry, source, imported_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [code, r["level"], r["country"], r["name"], light_geojson(r["geometry"]), source,
                 imported_at])
            levels[r["level"]] = levels.get(r["level"], 0) + 1
        import_id = _log(store, f, name, user, report, len(rows), started,
                         inserted=len(rows) - replaced, updated=replaced)
        bump_generation(store)
    return Outcome(report, {"import_id": import_id, "file": name, "features": len(rows),
                            "levels": dict(sorted(levels.items())),
                            "countries": sorted({r["country"] for r in rows.values()}), "replaced": replaced})


def _read(store: Store, f: SourceFile, level: int | None, report: Report) -> dict[str, dict]:
    """Parse and check every feature; {P-code: {level, country, name, geometry}} of the good ones."""
    name = f.name
    try:
        doc = json.loads(f.path.read_bytes())
    except UnicodeDecodeError as exc:
        report.add(Finding(NOT_GEOJSON, f"not UTF-8 at byte {exc.start}", file=name))
        return {}
    except json.JSONDecodeError as exc:
        report.add(Finding(NOT_GEOJSON, f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                           file=name))
        return {}
    features = doc.get("features") if isinstance(doc, dict) else None
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection" or not isinstance(features, list):
        kind = doc.get("type") if isinstance(doc, dict) else type(doc).__name__
        report.add(Finding(NOT_GEOJSON, f"expected a GeoJSON FeatureCollection, found {kind!r}", file=name,
                           column="type", value=str(kind)))
        return {}
    if not features:
        report.add(Finding(NOT_GEOJSON, "the FeatureCollection holds no features", file=name,
                           column="features"))
        return {}
    crs = ((doc.get("crs") or {}).get("properties") or {}).get("name", "")
    if crs and not re.search(r"(CRS84|4326)$", str(crs)):
        report.add(Finding(NOT_GEOJSON, f"coordinates must be longitude/latitude degrees (WGS 84), not {crs}",
                           file=name, column="crs", value=str(crs)))
        return {}

    parsed = []  # (row, feature, codes, names, level wanted)
    for i, feature in enumerate(features):
        row = i + 1
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            report.add(Finding(NOT_GEOJSON, "not a GeoJSON Feature", file=name, row=row, column="type"))
            continue
        props = feature.get("properties") or {}
        if not isinstance(props, dict):
            report.add(Finding(NOT_GEOJSON, "properties is not an object", file=name, row=row,
                               column="properties"))
            continue
        codes, names = _codes_and_names(props)
        want = level if level is not None else (max(codes) if codes else None)
        if want is None or want not in codes:
            column = f"ADM{want}_PCODE" if want is not None else "ADMn_PCODE"
            report.add(Finding(NO_PCODE, f"no {column} property", file=name, row=row, column=column))
            continue
        iso3 = _iso3(codes[want][1], codes.get(0, (None, None))[1])
        parsed.append((row, feature, codes, names, want, iso3))

    resolver = PcodeResolver(store, countries=sorted({p[5] for p in parsed}))
    out: dict[str, dict] = {}
    for row, feature, codes, names, want, iso3 in parsed:
        key, given = codes[want]
        resolved = resolver.resolve(iso3, given if want > 0 else iso3, want)
        place = resolver.places.get(resolved.code) if resolved.code else None
        if place is None:
            report.add(Finding(UNKNOWN_PCODE, f"{given} is not a P-code in the place table", file=name,
                               row=row, column=key, value=given))
            continue
        if place.level != want:
            report.add(Finding(UNKNOWN_PCODE, f"{given} is an admin{place.level} P-code, not admin{want}",
                               file=name, row=row, column=key, value=given))
            continue
        problem = _check_coordinates(feature.get("geometry"))
        geom = None
        if problem is None:
            try:
                geom = _polygonal(feature["geometry"])
            except (ValueError, TypeError, ShapelyError) as exc:
                problem = f"unreadable geometry: {exc}"
            else:
                problem = None if geom is not None else "the polygon has no area"
        if problem:
            report.add(Finding(BAD_GEOMETRY, f"{given}: {problem}", file=name, row=row, column="geometry"))
            continue
        code = resolved.code
        if code in out:  # one area drawn as several features: their union
            geom = shapely.union_all([out[code]["geometry"], geom])
        out[code] = {"level": want, "country": place.country, "name": names.get(want) or place.name,
                     "geometry": geom}
    return out


def _log(store: Store, f: SourceFile | None, name: str, user: str | None, report: Report, features: int,
         started: datetime, *, inserted: int = 0, updated: int = 0) -> int:
    """One row in the import log, like every import: who loaded which file, with what outcome."""
    import_id = store.scalar("SELECT nextval('import_ids')")
    status = "committed" if report.ok else "rejected"
    store.execute(
        "INSERT INTO imports (import_id, kind, form_id, files, sha256, user_name, started_at, finished_at, "
        "status, rows_read, rows_inserted, rows_updated, rows_unchanged, errors, warnings, message) "
        "VALUES (?, ?, NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)",
        [import_id, IMPORT_KIND, name, f.sha256 if f else "", user, started, _now(), status, features,
         inserted, updated, report.error_count(), report.warning_count(), report.summary()])
    if f is not None:
        store.execute("INSERT INTO import_files VALUES (?, ?, ?)", [import_id, f.sha256, 0])
    return import_id


# ------------------------------------------------------------------------------------------- reading back


def _feature(code: str | None, name: str | None, level: int, geometry: dict, **extra: object) -> dict:
    return {"type": "Feature", "id": code or extra.get("key"),
            "properties": {"code": code, "name": name, "level": level, **extra}, "geometry": geometry}


@lru_cache(maxsize=256)
def _bundled_light(iso3: str) -> tuple[tuple[Admin1Shape, str], ...]:
    """A country's bundled admin-1 shapes with their light GeoJSON text (simplified once per process)."""
    return tuple((s, light_geojson(_polygonal(s.geometry) or shape(s.geometry))) for s in admin1_shapes(iso3))


def _shapes(store: Store, iso3: str, level: int) -> tuple[list[dict], str | None]:
    """The shape features of one level, imported or (admin 1) bundled, and where they come from."""
    rows = store.query(
        "SELECT b.code, coalesce(b.name, p.name), b.geometry, b.source FROM boundaries b "
        "LEFT JOIN places p ON p.code = b.code WHERE b.country_code = ? AND b.level = ? ORDER BY b.code",
        [iso3, level])
    if rows:
        return ([_feature(code, name, level, json.loads(geometry)) for code, name, geometry, _ in rows],
                max((r[3] for r in rows if r[3]), default=None))
    if level != 1 or not _bundled_light(iso3):
        return [], None
    resolver = PcodeResolver(store, countries=[iso3])
    out = []
    for s, geometry in _bundled_light(iso3):
        code = resolver.resolve(iso3, s.pcode, 1).code if s.pcode else None  # TD07 finds TCD07, and back
        name = resolver.places[code].name if code else s.name
        out.append(_feature(code, name, 1, json.loads(geometry), key=s.key))
    out.sort(key=lambda f: (f["properties"]["code"] is None, f["properties"]["code"] or f["id"]))
    return out, natural_earth.SOURCE


def _anchor(geometry: dict) -> list[float]:
    """Where a circle for an area's children sits: the shape's centroid, or a point inside it when the
    centroid falls outside (a crescent, islands)."""
    geom = shape(geometry)
    point = geom.centroid if geom.contains(geom.centroid) else geom.representative_point()
    return [round(point.x, DECIMALS), round(point.y, DECIMALS)]


def boundaries_geojson(store: Store, country_code: str, level: int) -> dict:
    """What a country's map draws at one admin level, as a GeoJSON FeatureCollection.

    - the shapes imported for this country and level (`passage import boundaries`), if any;
    - else, at admin 1, the bundled Natural Earth shapes (`passage.places.natural_earth`), joined to the
      place table on P-codes normalised as imports are (a `TD07` shape finds the place `TCD07`);
    - else, at admin 2 and below, one Point per place at the centroid of its nearest ancestor that has a
      shape: the map draws circles there, never an invented shape.

    Features carry `code` (the place's P-code; None for a bundled shape no OCHA unit matches, whose
    Natural Earth `key` is given instead), `name` and `level`; points also `parent` (the ancestor they sit
    on). The collection says `kind` ("shapes" or "points"), `source`, and `without_shape`: the places of
    this level the map cannot show, each {code, name, note}, so a page lists them instead of dropping them.

    >>> fc = boundaries_geojson(store, "SSD", 1)  # doctest: +SKIP
    >>> [a["code"] for a in fc["without_shape"]]  # doctest: +SKIP
    ['SS00']
    """
    iso3, level = country_code.strip().upper(), int(level)
    features, source = _shapes(store, iso3, level)
    kind = "shapes"
    if not features and level >= 2:
        kind = "points"
        features, source = _points(store, iso3, level)
    shown = {f["properties"]["code"] for f in features}
    notes = natural_earth.unmatched_notes() if source == natural_earth.SOURCE else {}
    missing = [{"code": code, "name": name, "note": notes.get(code)}
               for code, name in store.query("SELECT code, name FROM places WHERE country_code = ? AND level = ? "
                                             "ORDER BY code", [iso3, level])
               if code not in shown]
    return {"type": "FeatureCollection", "kind": kind, "source": source, "without_shape": missing,
            "features": features}


def _points(store: Store, iso3: str, level: int) -> tuple[list[dict], str | None]:
    """One Point per place of this level, at the centroid of its nearest ancestor with a shape."""
    anchors: dict[str, tuple[list[float], str]] = {}
    sources = []
    for lvl in range(level - 1, 0, -1):
        shapes, source = _shapes(store, iso3, lvl)
        if shapes and source not in sources:
            sources.append(source)
        for f in shapes:
            if f["properties"]["code"]:
                anchors.setdefault(f["properties"]["code"], (_anchor(f["geometry"]), f["properties"]["name"]))
    parent = dict(store.query("SELECT code, parent_code FROM places WHERE country_code = ? AND level BETWEEN 1 AND ?",
                              [iso3, level]))
    out = []
    for code, name in store.query("SELECT code, name FROM places WHERE country_code = ? AND level = ? ORDER BY code",
                                  [iso3, level]):
        up = parent.get(code)
        while up is not None and up not in anchors:
            up = parent.get(up)
        if up is not None:
            out.append(_feature(code, name, level, {"type": "Point", "coordinates": anchors[up][0]},
                                parent=up, parent_name=anchors[up][1]))
    source = "; ".join(sources) if sources else None
    return out, source


def boundary_levels(store: Store, country_code: str) -> list[int]:
    """The admin levels for which a country has imported shapes, lowest first."""
    rows = store.query("SELECT DISTINCT level FROM boundaries WHERE country_code = ? ORDER BY level",
                       [country_code.strip().upper()])
    return [r[0] for r in rows]


def map_levels(store: Store, country_code: str) -> list[int]:
    """The admin levels a country's map can show: those with imported shapes, admin 1 when Natural Earth has
    the country, and every level of its places (drawn as circles where no shape exists)."""
    iso3 = country_code.strip().upper()
    levels = set(boundary_levels(store, iso3))
    if admin1_shapes(iso3):
        levels.add(1)
    levels |= {r[0] for r in store.query("SELECT DISTINCT level FROM places WHERE country_code = ? "
                                         "AND level BETWEEN 1 AND 3", [iso3])}
    return sorted(levels)
