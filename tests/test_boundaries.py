"""Admin boundaries: COD-AB GeoJSON in, checked against the place table, simplified, read back per country."""

from __future__ import annotations

import json
import math

import pytest
from shapely.geometry import shape

from passage.packs.dtm.demo import ensure_places
from passage.packs.dtm.demo_boundaries import write_demo_boundaries
from passage.places.boundaries import (
    BAD_GEOMETRY,
    NO_PCODE,
    NOT_GEOJSON,
    TOO_LARGE,
    UNKNOWN_PCODE,
    boundaries_geojson,
    boundary_levels,
    import_boundaries,
)
from passage.places.topojson import world_countries


def square(x: float, y: float, size: float = 1.0) -> dict:
    ring = [[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]
    return {"type": "Polygon", "coordinates": [ring]}


def feature(props: dict, geometry: dict | None) -> dict:
    return {"type": "Feature", "properties": props, "geometry": geometry}


def write(tmp_path, features: list | None = None, name: str = "cod-ab.geojson", text: str | None = None):
    path = tmp_path / name
    if text is None:
        text = json.dumps({"type": "FeatureCollection", "features": features})
    path.write_text(text, encoding="utf-8")
    return path


def cod_ab() -> list[dict]:
    """Nigeria admin1 and admin2 as COD-AB writes them, one in lower-case keys; Chad with ISO2 codes."""
    return [
        feature({"ADM0_PCODE": "NG", "ADM0_EN": "Nigeria", "ADM1_PCODE": "NG002", "ADM1_EN": "Adamawa"},
                square(12.0, 9.0)),
        feature({"adm0_pcode": "NG", "adm1_pcode": "NG008", "adm1_en": "Borno"}, square(13.0, 11.0)),
        feature({"ADM0_PCODE": "NG", "ADM1_PCODE": "NG002", "ADM1_EN": "Adamawa", "ADM2_PCODE": "NG002001",
                 "ADM2_EN": "Demsa"}, square(12.0, 9.0, 0.5)),
        feature({"ADM0_PCODE": "TD", "ADM1_PCODE": "TD07", "ADM1_FR": "Lac"},
                {"type": "MultiPolygon", "coordinates": [square(14.0, 13.0)["coordinates"]]}),
    ]


def snapshot(store) -> list[tuple]:
    return store.query("SELECT code, level, country_code, name, geometry, source FROM boundaries "
                       "ORDER BY code")


def test_import_and_read_back(any_store, tmp_path):
    ensure_places(any_store)
    result = import_boundaries(any_store, write(tmp_path, cod_ab()), user="ana").value
    assert result["features"] == 4
    assert result["levels"] == {1: 3, 2: 1}
    assert result["countries"] == ["NGA", "TCD"]
    assert result["replaced"] == 0

    fc = boundaries_geojson(any_store, "nga", 1)
    assert fc["type"] == "FeatureCollection"
    assert [f["properties"] for f in fc["features"]] == [
        {"code": "NG002", "name": "Adamawa", "level": 1},
        {"code": "NG008", "name": "Borno", "level": 1},
    ]
    adamawa = shape(fc["features"][0]["geometry"])
    assert adamawa.bounds == (12.0, 9.0, 13.0, 10.0)
    assert adamawa.area == pytest.approx(1.0)
    admin2 = boundaries_geojson(any_store, "NGA", 2)["features"]
    assert [f["properties"]["code"] for f in admin2] == ["NG002001"]
    # Chad's ISO2-prefixed provider code is stored under the COD's code.
    lac = boundaries_geojson(any_store, "TCD", 1)["features"]
    assert [(f["properties"]["code"], f["properties"]["name"]) for f in lac] == [("TCD07", "Lac")]
    assert boundary_levels(any_store, "NGA") == [1, 2]
    assert boundary_levels(any_store, "TCD") == [1]
    assert boundary_levels(any_store, "SSD") == []

    # Logged and archived like every import.
    kind, status, user, sha = any_store.query(
        "SELECT kind, status, user_name, sha256 FROM imports WHERE import_id = ?", [result["import_id"]])[0]
    assert (kind, status, user) == ("boundaries", "committed", "ana")
    archived = any_store.scalar("SELECT archived_as FROM files WHERE sha256 = ?", [sha])
    assert archived and (tmp_path / "cod-ab.geojson").read_bytes() == open(archived, "rb").read()


def test_reimport_replaces_codes_in_place(any_store, tmp_path):
    assert import_boundaries(any_store, write(tmp_path, cod_ab())).ok
    moved = [feature({"ADM1_PCODE": "NG002", "ADM1_EN": "Adamawa"}, square(12.5, 9.5))]
    result = import_boundaries(any_store, write(tmp_path, moved, "again.geojson"), source="COD-AB 2024").value
    assert result["replaced"] == 1
    rows = any_store.query("SELECT code, source FROM boundaries WHERE country_code = 'NGA' ORDER BY code")
    assert rows == [("NG002", "COD-AB 2024"), ("NG002001", "cod-ab.geojson"), ("NG008", "cod-ab.geojson")]
    geom = boundaries_geojson(any_store, "NGA", 1)["features"][0]["geometry"]
    assert shape(geom).bounds == (12.5, 9.5, 13.5, 10.5)


def test_level_option_picks_the_code_column(store, tmp_path):
    result = import_boundaries(store, write(tmp_path, cod_ab()[2:3]), level=1).value
    assert result["levels"] == {1: 1}
    assert [f["properties"]["code"] for f in boundaries_geojson(store, "NGA", 1)["features"]] == ["NG002"]


def test_geometry_is_simplified_and_rounded(store, tmp_path):
    n = 4000  # a circle of radius 1/3 degree with a vertex every 60 m or so
    ring = [[12.0 + math.cos(2 * math.pi * i / n) / 3, 9.5 + math.sin(2 * math.pi * i / n) / 3]
            for i in range(n)]
    ring.append(ring[0])
    path = write(tmp_path, [feature({"ADM1_PCODE": "NG002"}, {"type": "Polygon", "coordinates": [ring]})])
    assert import_boundaries(store, path).ok
    stored = boundaries_geojson(store, "NGA", 1)["features"][0]["geometry"]
    points = stored["coordinates"][0]
    assert 20 < len(points) < n / 10
    assert all(round(c, 5) == c for p in points for c in p)
    assert shape(stored).area == pytest.approx(math.pi / 9, rel=0.01)
    assert shape(stored).is_valid


@pytest.mark.parametrize(("features", "text", "expected"), [
    (None, '{"type": "FeatureCollection", "features": [', [(None, None, NOT_GEOJSON)]),
    (None, '{"type": "Feature", "properties": {}}', [(None, "type", NOT_GEOJSON)]),
    ([feature({"ADM1_PCODE": "NG002"}, square(12, 9)), feature({"ADM1_PCODE": "NG999"}, square(13, 9))], None,
     [(2, "ADM1_PCODE", UNKNOWN_PCODE)]),
    ([feature({"ADM1_PCODE": "NG002"}, {"type": "Point", "coordinates": [12, 9]})], None,
     [(1, "geometry", BAD_GEOMETRY)]),
    ([feature({"ADM1_PCODE": "NG002"}, square(12, 9)), feature({"ADM1_PCODE": "NG008"}, square(130_000, 9))],
     None, [(2, "geometry", BAD_GEOMETRY)]),
    ([feature({"ADM1_PCODE": "NG002"},
              {"type": "Polygon", "coordinates": [[[12, 9], ["13", 9], [13, 10], [12, 9]]]})],
     None, [(1, "geometry", BAD_GEOMETRY)]),
    ([feature({"ADM1_EN": "Adamawa"}, square(12, 9))], None, [(1, "ADMn_PCODE", NO_PCODE)]),
    ([feature({"ADM1_PCODE": "NG002001"}, square(12, 9))], None, [(1, "ADM1_PCODE", UNKNOWN_PCODE)]),
], ids=["not-json", "not-collection", "unknown-pcode", "point", "projected", "text-coordinate", "no-pcode",
        "wrong-level"])
def test_rejections_are_located_and_change_nothing(any_store, tmp_path, features, text, expected):
    assert import_boundaries(any_store, write(tmp_path, cod_ab(), "before.geojson")).ok
    before = snapshot(any_store)
    path = write(tmp_path, features, "bad.geojson", text)
    outcome = import_boundaries(any_store, path)
    assert not outcome.ok and outcome.value is None
    report = outcome.report
    assert report.flat() == expected
    assert all(f.file == "bad.geojson" for f in report)
    assert snapshot(any_store) == before
    assert any_store.scalar("SELECT status FROM imports ORDER BY import_id DESC LIMIT 1") == "rejected"


def test_unknown_pcode_finding_carries_the_value(store, tmp_path):
    path = write(tmp_path, [feature({"adm2_pcode": "NG999999"}, square(12, 9))])
    outcome = import_boundaries(store, path)
    assert not outcome.ok
    (finding,) = outcome.report.findings
    assert (finding.code, finding.row, finding.column, finding.value) == (
        UNKNOWN_PCODE, 1, "adm2_pcode", "NG999999")


def test_too_large_is_rejected_before_reading(store, tmp_path):
    path = write(tmp_path, cod_ab())
    outcome = import_boundaries(store, path, max_bytes=100)
    assert not outcome.ok
    assert [f.code for f in outcome.report] == [TOO_LARGE]
    assert snapshot(store) == []


def test_demo_boundaries_cover_every_admin1_inside_the_country(store, tmp_path):
    ensure_places(store)
    first = write_demo_boundaries(store, tmp_path / "a.geojson", countries=("NGA",))
    second = write_demo_boundaries(store, tmp_path / "b.geojson", countries=("NGA",))
    assert first.read_bytes() == second.read_bytes()  # seeded: the same shapes every time

    doc = json.loads(first.read_text(encoding="utf-8"))
    admin1 = {f["properties"]["ADM1_PCODE"]: shape(f["geometry"]) for f in doc["features"]
              if "ADM2_PCODE" not in f["properties"]}
    admin2 = [f for f in doc["features"] if "ADM2_PCODE" in f["properties"]]
    want1 = {r[0] for r in store.query("SELECT code FROM places WHERE country_code = 'NGA' AND level = 1")}
    want2 = {r[0] for r in store.query("SELECT code FROM places WHERE country_code = 'NGA' AND level = 2")}
    assert set(admin1) == want1
    assert {f["properties"]["ADM2_PCODE"] for f in admin2} == want2
    assert all(f["properties"]["generated"] is True for f in doc["features"])

    outline = shape(world_countries()["NGA"]["geometry"])
    minx, miny, maxx, maxy = outline.bounds
    for code, geom in admin1.items():
        assert geom.geom_type in ("Polygon", "MultiPolygon") and geom.area > 0, code
        gx0, gy0, gx1, gy1 = geom.bounds
        assert minx - 1e-4 <= gx0 and gx1 <= maxx + 1e-4 and miny - 1e-4 <= gy0 and gy1 <= maxy + 1e-4, code
    # The cells tile the outline: no overlaps, no gaps to speak of.
    assert sum(g.area for g in admin1.values()) == pytest.approx(outline.area, rel=0.01)
    # Every admin2 cell lies inside its admin1 cell.
    for f in admin2:
        parent = admin1[f["properties"]["ADM1_PCODE"]]
        assert parent.buffer(1e-4).contains(shape(f["geometry"])), f["properties"]["ADM2_PCODE"]

    result = import_boundaries(store, first).value
    assert result["levels"] == {1: len(want1), 2: len(want2)}
    assert {f["properties"]["code"] for f in boundaries_geojson(store, "NGA", 1)["features"]} == want1


def test_demo_boundaries_for_all_demo_countries(store, tmp_path):
    ensure_places(store)
    result = import_boundaries(store, write_demo_boundaries(store, tmp_path / "demo.geojson")).value
    assert result["countries"] == ["AFG", "NGA", "SSD", "TCD"]
    for iso3 in result["countries"]:
        assert boundary_levels(store, iso3) == [1, 2]
        known = store.scalar("SELECT count(*) FROM places WHERE country_code = ? AND level = 1", [iso3])
        assert len(boundaries_geojson(store, iso3, 1)["features"]) == known
