"""Reading TopoJSON (the format of Natural Earth's `world-atlas`) in Python.

TopoJSON stores each shared border once, as an arc of integer positions: the first
absolute, the rest as deltas, all mapped to degrees by the topology's transform. A
polygon ring lists arc indices; `~i` (i.e. -i - 1) means arc i reversed. Decoding
follows the specification (github.com/topojson/topojson-specification) so the server
sees exactly the shapes topojson-client draws in the browser.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

WORLD_ATLAS = (Path(__file__).resolve().parents[1] / "web" / "static" / "vendor" / "world-atlas"
               / "countries-110m.json")


def _decode_arc(topology: dict, arc: list) -> list[tuple[float, float]]:
    transform = topology.get("transform")
    if transform is None:
        return [(float(p[0]), float(p[1])) for p in arc]
    (sx, sy), (tx, ty) = transform["scale"], transform["translate"]
    x = y = 0
    points = []
    for p in arc:  # delta-encoded, quantized
        x += p[0]
        y += p[1]
        points.append((x * sx + tx, y * sy + ty))
    return points


class _Arcs:
    """The topology's arcs in degrees, each decoded when first used (a country needs a few of the world's)."""

    def __init__(self, topology: dict):
        self.topology = topology
        self.decoded: dict[int, list[tuple[float, float]]] = {}

    def __getitem__(self, i: int) -> list[tuple[float, float]]:
        if i not in self.decoded:
            self.decoded[i] = _decode_arc(self.topology, self.topology["arcs"][i])
        return self.decoded[i]


def _decoded_arcs(topology: dict) -> _Arcs:
    return _Arcs(topology)


def _ring(arcs: _Arcs | list, indices: list[int]) -> list[list[float]]:
    ring: list[tuple[float, float]] = []
    for i in indices:
        points = arcs[i] if i >= 0 else arcs[~i][::-1]
        ring.extend(points[1:] if ring else points)  # consecutive arcs share their end point
    return [[x, y] for x, y in ring]


def geometry(topology: dict, obj: dict, arcs: _Arcs | list | None = None) -> dict | None:
    """One TopoJSON geometry object as a GeoJSON geometry (None for a null geometry)."""
    arcs = arcs if arcs is not None else _decoded_arcs(topology)
    kind = obj.get("type")
    if kind == "Polygon":
        return {"type": "Polygon", "coordinates": [_ring(arcs, r) for r in obj["arcs"]]}
    if kind == "MultiPolygon":
        polygons = [[_ring(arcs, r) for r in poly] for poly in obj["arcs"]]
        return {"type": "MultiPolygon", "coordinates": polygons}
    if kind == "LineString":
        return {"type": "LineString", "coordinates": _ring(arcs, obj["arcs"])}
    if kind == "MultiLineString":
        return {"type": "MultiLineString", "coordinates": [_ring(arcs, line) for line in obj["arcs"]]}
    if kind in ("Point", "MultiPoint"):
        return {"type": kind, "coordinates": obj["coordinates"]}
    return None


def features(topology: dict, name: str, where: Callable[[dict], bool] | None = None) -> list[dict]:
    """The GeoJSON features of one named object of a topology, with their `id` and properties.

    where: keep only the members whose properties it accepts; only their arcs are decoded.
    """
    arcs = _decoded_arcs(topology)
    obj = topology["objects"][name]
    members = obj["geometries"] if obj.get("type") == "GeometryCollection" else [obj]
    return [{"type": "Feature", "id": m.get("id"), "properties": m.get("properties") or {},
             "geometry": geometry(topology, m, arcs)}
            for m in members if where is None or where(m.get("properties") or {})]


@lru_cache(maxsize=1)
def world_countries() -> dict[str, dict]:
    """Natural Earth 1:110m country outlines from the vendored world-atlas, by ISO 3166 alpha-3 code.

    world-atlas keys countries by ISO 3166-1 numeric id; a few disputed areas have none and are left out.
    """
    import pycountry

    topology = json.loads(WORLD_ATLAS.read_text(encoding="utf-8"))
    out = {}
    for f in features(topology, "countries"):
        country = pycountry.countries.get(numeric=f["id"]) if f["id"] else None
        if country is not None and f["geometry"] is not None:
            out[country.alpha_3] = f
    return out


@lru_cache(maxsize=1)
def world_outline_keys() -> tuple[str, ...]:
    """What the world map's outline draws, one key per feature: its ISO 3166 alpha-3 code, or its name for
    the few areas without one (N. Cyprus, Somaliland, Kosovo in world-atlas 1:110m)."""
    topology = json.loads(WORLD_ATLAS.read_text(encoding="utf-8"))
    by_numeric = {c: f["id"] for c, f in world_countries().items()}
    iso3 = {v: k for k, v in by_numeric.items()}
    return tuple(iso3.get(f["id"]) or f["properties"].get("name") or str(f["id"])
                 for f in features(topology, "countries") if f["geometry"] is not None)
