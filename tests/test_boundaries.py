"""Admin boundaries: COD-AB GeoJSON in, checked against the place table, simplified, read back per country."""

from __future__ import annotations

import hashlib
import json
import math
import re
from pathlib import Path

import pytest
from shapely.geometry import shape

from passage.packs.dtm.demo import ensure_places
from passage.places import natural_earth
from passage.places.boundaries import (
    BAD_GEOMETRY,
    NO_PCODE,
    NOT_GEOJSON,
    TOO_LARGE,
    UNKNOWN_PCODE,
    boundaries_geojson,
    boundary_levels,
    import_boundaries,
    map_levels,
)


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
    assert archived and (tmp_path / "cod-ab.geojson").read_bytes() == Path(archived).read_bytes()


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


# ------------------------------------------------------------------------------------- the default layer


def centroid(fc: dict, code: str):
    (f,) = [f for f in fc["features"] if f["properties"]["code"] == code]
    return shape(f["geometry"]).centroid


def test_default_admin1_layer_is_natural_earth_joined_on_pcodes(any_store):
    store = any_store
    fc = boundaries_geojson(store, "NGA", 1)
    assert (fc["kind"], fc["source"], fc["without_shape"]) == ("shapes", natural_earth.SOURCE, [])
    want = {r[0] for r in store.query("SELECT code FROM places WHERE country_code = 'NGA' AND level = 1")}
    assert {f["properties"]["code"] for f in fc["features"]} == want and len(fc["features"]) == len(want)
    borno, lagos = centroid(fc, "NG008"), centroid(fc, "NG025")
    assert borno.y > 10 and borno.x > 11  # the north-east
    assert lagos.y < 7 and lagos.x < 4.5  # the south-west coast
    names = {f["properties"]["code"]: f["properties"]["name"] for f in fc["features"]}
    assert names["NG008"] == "Borno"  # the place table's name
    for f in fc["features"]:
        geom = shape(f["geometry"])
        assert geom.is_valid and geom.area > 0, f["properties"]
        assert all(round(c, 5) == c for c in shape(f["geometry"]).exterior.coords[0]) \
            if geom.geom_type == "Polygon" else True
    assert map_levels(store, "NGA") == [1, 2]
    assert boundary_levels(store, "NGA") == []  # nothing was imported


def test_areas_without_a_shape_are_listed_with_the_reason(store):
    ssd = boundaries_geojson(store, "SSD", 1)
    assert [a["code"] for a in ssd["without_shape"]] == ["SS00"]
    assert "Abyei" in ssd["without_shape"][0]["name"] and "Kordufan" in ssd["without_shape"][0]["note"]
    assert len(ssd["features"]) == 10

    tcd = boundaries_geojson(store, "TCD", 1)
    assert [a["code"] for a in tcd["without_shape"]] == ["TCD20", "TCD23"]
    assert all("Ennedi" in a["note"] for a in tcd["without_shape"])
    unjoined = [f for f in tcd["features"] if f["properties"]["code"] is None]
    assert [(f["properties"]["key"], f["properties"]["name"]) for f in unjoined] == [("TCD-5579", "Ennedi")]
    places = store.scalar("SELECT count(*) FROM places WHERE country_code = 'TCD' AND level = 1")
    assert len(tcd["features"]) - len(unjoined) + len(tcd["without_shape"]) == places


def test_chad_shapes_join_places_coded_td_or_tcd(store):
    """A place table with Chad's ISO2-prefixed codes (TD07, as DTM writes them) still gets every shape."""
    before = {f["properties"]["code"] for f in boundaries_geojson(store, "TCD", 1)["features"]} - {None}
    assert "TCD07" in before and len(before) == 21
    with store.transaction():
        store.execute("UPDATE places SET parent_code = 'TD' || substr(parent_code, 4) "
                      "WHERE country_code = 'TCD' AND level = 2")
        store.execute("UPDATE places SET code = 'TD' || substr(code, 4) WHERE country_code = 'TCD' AND level = 1")
        store.execute("UPDATE pcode_lengths SET country_len = 2 WHERE country_code = 'TCD'")
    after = boundaries_geojson(store, "TCD", 1)
    assert {f["properties"]["code"] for f in after["features"]} - {None} == {"TD" + c[3:] for c in before}
    assert [a["code"] for a in after["without_shape"]] == ["TD20", "TD23"]


def test_imported_shapes_replace_the_default_at_their_level(store, tmp_path):
    assert import_boundaries(store, write(tmp_path, cod_ab())).ok
    fc = boundaries_geojson(store, "NGA", 1)
    assert [f["properties"]["code"] for f in fc["features"]] == ["NG002", "NG008"]
    assert fc["source"] == "cod-ab.geojson"
    places = store.scalar("SELECT count(*) FROM places WHERE country_code = 'NGA' AND level = 1")
    assert len(fc["without_shape"]) == places - 2  # the others are listed, not drawn from another source
    assert boundaries_geojson(store, "NGA", 2)["kind"] == "shapes"  # NG002001 was imported at admin 2
    assert boundaries_geojson(store, "SSD", 1)["source"] == natural_earth.SOURCE  # other countries keep it


def test_admin2_without_shapes_is_points_at_the_parent_centroid(store):
    admin1 = boundaries_geojson(store, "NGA", 1)
    fc = boundaries_geojson(store, "NGA", 2)
    assert fc["kind"] == "points"
    places = dict(store.query("SELECT code, parent_code FROM places WHERE country_code = 'NGA' AND level = 2"))
    assert {f["properties"]["code"] for f in fc["features"]} == set(places) and fc["without_shape"] == []
    shapes = {f["properties"]["code"]: shape(f["geometry"]) for f in admin1["features"]}
    for f in fc["features"]:
        assert f["geometry"]["type"] == "Point"
        parent = f["properties"]["parent"]
        assert parent == places[f["properties"]["code"]]
        assert shapes[parent].contains(shape(f["geometry"])), f["properties"]
    borno = {tuple(f["geometry"]["coordinates"]) for f in fc["features"] if f["properties"]["parent"] == "NG008"}
    assert len(borno) == 1  # all of Borno's LGAs sit on Borno's centre
    (x, y), = borno
    assert shape(admin1["features"][[f["properties"]["code"] for f in admin1["features"]].index("NG008")]
                 ["geometry"]).centroid.distance(shape({"type": "Point", "coordinates": [x, y]})) < 1e-4
    # Chad's Ennedi Est and Ennedi Ouest have no shape, so neither have their departments.
    tcd = boundaries_geojson(store, "TCD", 2)
    assert {a["code"][:5] for a in tcd["without_shape"]} == {"TCD20", "TCD23"}


def test_other_countries_come_from_the_world_file(store):
    shapes = natural_earth.admin1_shapes("FRA")
    assert len(shapes) > 20 and all(s.pcode is None for s in shapes)
    assert {s.key[:3] for s in shapes} == {"FRA"}
    paris = [s for s in shapes if s.name == "Paris"]
    assert paris and 2.2 < shape(paris[0].geometry).centroid.x < 2.5
    fc = boundaries_geojson(store, "SDN", 1)  # shapes, but no P-codes to join: every place is listed
    assert fc["features"] and all(f["properties"]["code"] is None for f in fc["features"])
    assert len(fc["without_shape"]) == store.scalar(
        "SELECT count(*) FROM places WHERE country_code = 'SDN' AND level = 1")
    assert natural_earth.admin1_shapes("XXX") == ()


def test_the_shipped_files_are_the_ones_provenance_describes():
    text = (natural_earth.DATA / "PROVENANCE.md").read_text(encoding="utf-8")
    for path in (natural_earth.WORLD_FILE, natural_earth.FOCUS_FILE, natural_earth.MATCH_FILE):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert digest[:16] in re.findall(r"`([0-9a-f]{16})…`", text), path.name  # unchanged since packaged
