"""Fuzz the GeoJSON boundary reader's parse-and-check step (`passage.places.boundaries`: COD-AB features keyed
by P-code), which runs before anything is stored.

    .venv/bin/python fuzz/fuzz_geojson.py -max_total_time=60 /tmp/corpus-geojson

Seeds: COD-AB-shaped collections of Nigeria and Chad as tests/test_boundaries.py writes them (admin 1 and 2,
lower-case keys, ISO2 codes, a MultiPolygon, a hole), and a few wrong ones.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as h


def square(x: float, y: float, size: float = 1.0) -> list:
    return [[[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]]


def feature(props: dict, geometry: dict | None) -> dict:
    return {"type": "Feature", "properties": props, "geometry": geometry}


def collection(features: list, **extra) -> bytes:
    return json.dumps({"type": "FeatureCollection", **extra, "features": features}).encode()


def seeds() -> dict[str, bytes]:
    cod_ab = [
        feature({"ADM0_PCODE": "NG", "ADM0_EN": "Nigeria", "ADM1_PCODE": "NG002", "ADM1_EN": "Adamawa"},
                {"type": "Polygon", "coordinates": square(12.0, 9.0)}),
        feature({"adm0_pcode": "NG", "adm1_pcode": "NG008", "adm1_en": "Borno"},
                {"type": "Polygon", "coordinates": square(13.0, 11.0)}),
        feature({"ADM0_PCODE": "NG", "ADM1_PCODE": "NG002", "ADM2_PCODE": "NG002001", "ADM2_EN": "Demsa"},
                {"type": "Polygon", "coordinates": square(12.0, 9.0, 0.5)}),
        feature({"ADM0_PCODE": "TD", "ADM1_PCODE": "TD07", "ADM1_FR": "Lac"},
                {"type": "MultiPolygon", "coordinates": [square(14.0, 13.0)]}),
    ]
    holed = feature({"ADM0_PCODE": "TCD", "ADM1_PCODE": "TCD07"},
                    {"type": "Polygon", "coordinates": square(14.0, 13.0) + square(14.2, 13.2, 0.1)})
    return {
        "cod-ab.geojson": collection(cod_ab),
        "crs.geojson": collection(cod_ab[:1], crs={"type": "name", "properties": {"name":
                                                   "urn:ogc:def:crs:OGC:1.3:CRS84"}}),
        "hole.geojson": collection([holed]),
        "unknown.geojson": collection([feature({"ADM1_PCODE": "NG099"},
                                               {"type": "Point", "coordinates": [12.0, 9.0]})]),
        "projected.geojson": collection([feature({"ADM1_PCODE": "NG002"}, {"type": "Polygon", "coordinates":
                                                 [[[1.2e6, 9e5], [1.3e6, 9e5], [1.3e6, 1e6], [1.2e6, 9e5]]]})]),
        "line.geojson": collection([feature({"ADM1_PCODE": "NG008"},
                                            {"type": "LineString", "coordinates": [[13, 11], [14, 12]]})]),
        "empty.geojson": collection([]),
    }


def setup() -> None:
    h.store(places=True)


def one_input(data: bytes) -> None:
    from passage.findings import Report
    from passage.ingest.files import describe
    from passage.places.boundaries import _read

    path = h.write_input(data, "fuzz.geojson")
    report = Report()
    try:
        _read(h.store(), describe(path), None, report)
    except h.HANDLED:
        return
    h.check_report(report, path.name)


if __name__ == "__main__":
    h.run(seeds, one_input, setup)
