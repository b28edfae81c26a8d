"""Generated admin boundaries for the demo. THESE SHAPES ARE NOT REAL BOUNDARIES.

No OCHA COD-AB files ship with Passage, so the demo draws plausible ones: each
country's real outline (Natural Earth 1:110m, from the vendored world-atlas) is cut
into one Voronoi cell per admin1 P-code of the place table, around seeded points
spread by a few rounds of Lloyd relaxation so the cells have even sizes; each admin1
cell is cut the same way into its admin2 P-codes. The P-codes and names are real,
their shapes and neighbours are invented. The file is shaped like a COD-AB GeoJSON
(`ADM0_PCODE`, `ADM1_PCODE`, `ADM1_EN`, `ADM2_PCODE`, `ADM2_EN`) so it goes through
`import_boundaries` like a real one; every feature says `"generated": true`.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import shapely
from shapely.geometry import MultiPoint, Point, mapping, shape

from passage.errors import NotFound
from passage.places.topojson import world_countries
from passage.store import Store

DEMO_COUNTRIES = ("AFG", "NGA", "SSD", "TCD")
LLOYD_ROUNDS = 3
DECIMALS = 5


def _points_inside(area: shapely.Geometry, n: int, rng: random.Random) -> list[Point]:
    """n distinct seeded points inside area (rejection sampling in its bounding box)."""
    minx, miny, maxx, maxy = area.bounds
    shapely.prepare(area)
    points: list[Point] = []
    for _ in range(200 * n):
        if len(points) == n:
            break
        p = Point(rng.uniform(minx, maxx), rng.uniform(miny, maxy))
        if area.contains(p):
            points.append(p)
    while len(points) < n:  # a sliver too thin to hit: nudge copies of a point inside it
        base = area.representative_point()
        points.append(Point(base.x + 1e-4 * len(points), base.y))
    return points


def _cells(area: shapely.Geometry, n: int, rng: random.Random) -> list[shapely.Geometry]:
    """n cells that tile area: clipped Voronoi cells of relaxed seeded points, in the points' order."""
    if n == 1:
        return [area]
    points = _points_inside(area, n, rng)
    cells: list[shapely.Geometry] = []
    for round_ in range(LLOYD_ROUNDS + 1):
        voronoi = shapely.voronoi_polygons(MultiPoint(points), extend_to=area.envelope.buffer(1),
                                           ordered=True)
        cells = [cell.intersection(area) for cell in voronoi.geoms]
        if round_ == LLOYD_ROUNDS:
            break
        moved = [c.centroid if not c.is_empty and area.contains(c.centroid) else p
                 for c, p in zip(cells, points)]
        if len({(round(p.x, 6), round(p.y, 6)) for p in moved}) < n:
            break
        points = moved
    return cells


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    parts = [g for g in getattr(geom, "geoms", [geom]) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if len(parts) != 1 else parts[0]


def _rounded(geom: shapely.Geometry) -> dict:
    g = mapping(_polygonal(shapely.set_precision(geom, 10**-DECIMALS)))

    def r(c):
        if isinstance(c[0], float):
            return [round(c[0], DECIMALS), round(c[1], DECIMALS)]
        return [r(x) for x in c]

    return {"type": g["type"], "coordinates": r(g["coordinates"])}


def _in_rows(cells: list[shapely.Geometry], codes: list[str]) -> list[tuple[str, shapely.Geometry]]:
    """Codes in order over cells sorted in bands west to east, so neighbouring codes tend to be neighbours."""
    ranked = sorted(cells, key=lambda c: (round(c.centroid.y / 2), c.centroid.x) if not c.is_empty
                    else (0, 0))
    return list(zip(codes, ranked))


def demo_features(store: Store, iso3: str) -> list[dict]:
    """Generated admin1 and admin2 features for one country (deterministic)."""
    outline_feature = world_countries().get(iso3)
    if outline_feature is None:
        raise NotFound(f"no Natural Earth outline for {iso3}")
    outline = shapely.make_valid(shape(outline_feature["geometry"]))
    places = store.query("SELECT code, level, name, parent_code FROM places "
                         "WHERE country_code = ? AND level IN (1, 2) ORDER BY code", [iso3])
    admin1 = [(c, n) for c, lvl, n, _ in places if lvl == 1]
    if not admin1:
        raise NotFound(f"no admin1 places for {iso3}: load the P-codes first")
    children: dict[str, list[tuple[str, str]]] = {}
    for code, lvl, name, parent in places:
        if lvl == 2:
            children.setdefault(parent, []).append((code, name))
    country_pcode = re.match(r"^[A-Z]+", admin1[0][0]).group(0)  # as COD-AB writes it: AF, NG, SS, TCD
    country_name = outline_feature["properties"].get("name", iso3)
    rng = random.Random(f"passage-demo-boundaries-{iso3}")
    names1 = dict(admin1)
    out = []
    cells1 = _in_rows(_cells(outline, len(admin1), rng), [c for c, _ in admin1])
    for code1, cell1 in cells1:
        base = {"ADM0_PCODE": country_pcode, "ADM0_EN": country_name, "ADM1_PCODE": code1,
                "ADM1_EN": names1[code1]}
        out.append({"type": "Feature", "properties": {**base, "generated": True},
                    "geometry": _rounded(cell1)})
        kids = children.get(code1, [])
        if not kids:
            continue
        for code2, cell2 in _in_rows(_cells(cell1, len(kids), rng), [c for c, _ in kids]):
            props = {**base, "ADM2_PCODE": code2, "ADM2_EN": dict(kids)[code2], "generated": True}
            out.append({"type": "Feature", "properties": props, "geometry": _rounded(cell2)})
    return out


def write_demo_boundaries(store: Store, out: Path, countries: tuple[str, ...] = DEMO_COUNTRIES) -> Path:
    """Write one COD-AB-shaped GeoJSON of generated admin1/admin2 shapes of these countries; return it."""
    features = [f for iso3 in countries for f in demo_features(store, iso3)]
    doc = {"type": "FeatureCollection", "name": "passage-demo-boundaries",
           "description": "Generated shapes for the Passage demo, not real boundaries "
                          "(real P-codes, invented shapes).",
           "features": features}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    return out
