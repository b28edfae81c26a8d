"""Maps in a real browser (Debian's Chromium driven by Playwright) over the seeded demo portal.

The country map draws Natural Earth's real admin-1 shapes joined on P-codes (Borno in the north-east, Lagos
on the south-west coast), lists the areas it has no shape for, and draws admin 2 without shapes as circles
at the parent's centre beside a table. The travel map colours every country, its "No data" count is the
countries left grey (and those off the outline without a status), the points-of-entry table is paged with
links a keyboard reaches, and the travel and country pages fit a 390 px phone.
"""

from __future__ import annotations

import pytest
from shapely.geometry import Point, shape

from passage.places.topojson import world_outline_keys

NO_DATA = "#d4d4d4"  # map.js and the travel pack's "no data" grey
PHONE = {"width": 390, "height": 844}


def drawn_features(page, codes: list[str]) -> dict[str, dict]:
    """The GeoJSON features the country map's layer holds for these codes (what Leaflet draws)."""
    found = page.evaluate("""codes => {
        const out = {};
        document.getElementById('map').passageLayers.areas.eachLayer(l => {
            if (codes.includes(l.feature.properties.code)) { out[l.feature.properties.code] = l.feature; }
        });
        return out;
    }""", codes)
    return found


def test_nigeria_admin1_map_draws_real_shapes_joined_on_pcodes(page):
    page.goto("/countries/NGA")
    page.wait_for_selector("#map[data-state=ready]")
    assert page.get_attribute("#map", "data-kind") == "shapes"
    features = drawn_features(page, ["NG008", "NG025"])
    borno, lagos = shape(features["NG008"]["geometry"]).centroid, shape(features["NG025"]["geometry"]).centroid
    assert borno.y > 10 and borno.x > 11, borno  # Borno is in the north-east
    assert lagos.y < 7 and lagos.x < 4.5, lagos  # Lagos on the south-west coast
    # 37 states drawn, each path naming its P-code; the ones with values carry palette colours.
    paths = page.locator("#map path.leaflet-interactive[data-code^='NG']")
    assert paths.count() == 37
    valued = {r[1] for r in page.locator("#place-table tbody tr").evaluate_all(
        "rows => rows.map(r => [r.cells[0].textContent, r.cells[1].textContent])")}
    assert "NG008" in valued
    fills = dict(paths.evaluate_all("ps => ps.map(p => [p.dataset.code, p.getAttribute('fill')])"))
    assert {c for c, f in fills.items() if f != NO_DATA} == valued
    assert int(page.get_attribute("#map", "data-nodata")) == 37 - len(valued)
    assert "Natural Earth" in page.locator("main").inner_text()  # the boundaries' source under the map
    assert page.locator("#without-shape").count() == 0  # every state has its shape


@pytest.mark.parametrize(("iso3", "missing"), [("SSD", ["SS00"]), ("TCD", ["TCD20", "TCD23"])])
def test_areas_without_a_shape_are_listed_beside_the_map(page, iso3, missing):
    page.goto(f"/countries/{iso3}")
    page.wait_for_selector("#map[data-state=ready]")
    listed = page.locator("#without-shape tbody tr").evaluate_all("rows => rows.map(r => r.dataset.code)")
    assert listed == missing
    drawn = set(page.locator("#map path.leaflet-interactive").evaluate_all("ps => ps.map(p => p.dataset.code)"))
    assert not drawn & set(missing)
    reasons = page.locator("#without-shape tbody td.small").all_inner_texts()
    assert all(r.strip() for r in reasons)  # each says why (Abyei inside Sudan, Ennedi undivided)


def test_admin2_without_shapes_is_circles_at_the_parent_centroid_and_a_table(page):
    page.goto("/countries/NGA?level=2")
    page.wait_for_selector("#map[data-state=ready]")
    assert page.get_attribute("#map", "data-kind") == "points"
    assert page.locator("#map-points-note").is_visible()
    rows = page.locator("#place-table tbody tr").evaluate_all(
        "rows => rows.map(r => [r.cells[1].textContent, r.cells[2].dataset.sort])")
    valued = {code for code, value in rows if value not in ("", None)}
    assert valued and all(len(c) == 8 for c in valued)  # admin-2 P-codes (NG008001 ...)
    circles = page.locator("#map path.passage-map-circle")
    assert set(circles.evaluate_all("ps => ps.map(p => p.dataset.code)")) == valued
    # No invented shapes: the interactive layer holds circles only (the states underneath are context).
    assert page.locator("#map path.leaflet-interactive:not(.passage-map-circle)").count() == 0
    points = page.evaluate("""() => {
        const out = [];
        document.getElementById('map').passageLayers.areas.eachLayer(l => out.push(l.feature));
        return out;
    }""")
    assert all(p["geometry"]["type"] == "Point" for p in points)
    states = page.request.get("/api/v1/boundaries/NGA?level=1").json()
    by_code = {f["properties"]["code"]: shape(f["geometry"]) for f in states["features"]}
    for p in points:
        state = by_code[p["properties"]["parent"]]
        at = Point(p["geometry"]["coordinates"])
        assert state.contains(at) and state.centroid.distance(at) < 1e-3, p["properties"]
    borno = [p for p in points if p["properties"]["parent"] == "NG008"]
    assert borno and all(p["geometry"]["coordinates"][1] > 10 for p in borno)


def no_data_check(page, source: str) -> tuple[int, int]:
    """The legend's no-data count for a source and the number of countries left without a status."""
    day = page.get_attribute("#travel-map", "data-day")
    universe = int(page.get_attribute("#travel-summary", "data-universe"))  # a count: codes could name unpublished countries
    rows = page.request.get(f"/api/v1/travel/status?date={day}&source={source}").json()["data"]
    known = {r["iso3"] for r in rows if r["status"] != "no_data"}
    fills = page.locator("#travel-map path.leaflet-interactive").evaluate_all(
        "ps => ps.map(p => p.getAttribute('fill'))")
    outline = set(world_outline_keys())
    assert len(fills) == len(outline)
    assert "#f7f7f4" not in fills  # no blank country: grey says "no data"
    grey = fills.count(NO_DATA)
    assert grey == len(outline - known)
    off_map = universe - len(outline | known)  # countries with data the outline lacks, none with a status this day
    shown = int(page.locator(f"#travel-summary td[data-source={source}][data-status=no_data]")
                .inner_text().replace(",", ""))
    column = page.locator(f"#travel-summary td[data-source={source}]").all_inner_texts()
    assert sum(int(c.replace(",", "")) for c in column) == universe
    return shown, grey + off_map


def test_travel_legend_counts_the_countries_left_grey(page):
    page.goto("/travel?date=2020-04-15&source=oxcgrt")
    page.wait_for_selector("#travel-map[data-state=ready][data-day='2020-04-15']")
    shown, blank = no_data_check(page, "oxcgrt")
    assert shown == blank > 100  # some 150 countries have no OxCGRT row in the demo's subset
    page.fill("#travel-date", "2020-01-10")
    page.dispatch_event("#travel-date", "change")
    page.wait_for_selector("#travel-map[data-state=ready][data-day='2020-01-10']")
    shown, blank = no_data_check(page, "oxcgrt")  # recounted in the browser for the new day
    assert shown == blank


def test_points_of_entry_table_is_paged_with_keyboard_links(page):
    page.goto("/travel/poe")
    page.wait_for_selector("#poe-map[data-state=ready]")
    total = int(page.get_attribute("#poe-map", "data-features"))
    rows = page.locator("#poe-table tbody tr[data-status]")
    assert total > 50 and rows.count() == 50
    seen = rows.evaluate_all("rs => rs.map(r => r.cells[0].textContent)")
    assert page.locator("#poe-pages a[aria-current=page]").inner_text() == "1"
    while page.locator("#poe-pages a[rel=next]").count():
        page.focus("#poe-pages a[rel=next]")
        page.keyboard.press("Enter")  # a link: reached and followed with the keyboard
        page.wait_for_load_state()
        current = int(page.locator("#poe-pages a[aria-current=page]").inner_text())
        assert str((current - 1) * 50 + 1) in page.locator("#poe-range").inner_text()
        seen += rows.evaluate_all("rs => rs.map(r => r.cells[0].textContent)")
    assert len(seen) == len(set(seen)) == total  # every point of entry once, over all pages
    assert page.locator("#poe-pages [data-kind=next][aria-disabled=true]").count() == 1
    # Filters and paging combine: the page links keep the filter.
    page.goto("/travel/poe?type=land_border")
    hrefs = page.locator("#poe-pages a").evaluate_all("as => as.map(a => a.getAttribute('href'))")
    assert hrefs and all("type=land_border" in h for h in hrefs)  # some 80 land crossings: two pages


@pytest.mark.parametrize("path", ["/travel?date=2020-04-15&source=oxcgrt", "/travel/poe", "/travel/countries/ITA",
                                  "/countries/NGA", "/countries/NGA?level=2"])
def test_pages_fit_a_390px_phone(open_context, path):
    context = open_context()
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.set_viewport_size(PHONE)
    page.goto(path)
    page.wait_for_selector("[data-state=ready]")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{path} is {width} px wide"
