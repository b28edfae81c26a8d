"""The portal in a real browser (Debian's Chromium driven by Playwright): what a newcomer does, end to end.

Read, search, download HXL, sign in, import a file whose error is located, fix it and commit, publish,
switch language, and see nothing unpublished from another country.
"""

from __future__ import annotations

import re
from pathlib import Path

from dtm_rows import api_rows, write_csv
from portal import sign_in

NARROW_NBSP = "\u202f"  # French thousands separator (CLDR)
FR_CATALOGUE = Path(__file__).resolve().parents[1] / "src" / "passage" / "web" / "locales" / "fr" / "LC_MESSAGES" \
    / "messages.po"

# A round of Abadam (Borno, Nigeria) that the demo data does not hold: one row per reason of displacement.
ABADAM = ("NG008", "Borno", "NG008001", "Abadam")
NO_RECORDS = [["No records."]]  # the records table when the filter matches nothing visible


def _rows(round_number: int, day: str, counts: dict[str, int]) -> list[dict]:
    return api_rows("NGA", [(2, *ABADAM, round_number, day, reason, idps, None, None)
                            for reason, idps in counts.items()])


def upload(page, path: Path) -> str:
    """Import a DTM file through the import page; the result section's status."""
    page.goto("/import")
    page.select_option("select[name=kind]", "dtm")
    page.set_input_files("input[name=file]", str(path))
    page.click("#import-form button")
    return page.locator("#import-result").get_attribute("data-status")


def records_cells(page, query: str) -> list[list[str]]:
    """The records page's table for a filter, as text cells (the first column is the history link)."""
    page.goto(f"/datasets/dtm_idps/records?{query}")
    return [[c.strip() for c in row] for row in
            page.locator("table.records-table tbody tr").evaluate_all(
                "rows => rows.map(r => Array.from(r.cells, c => c.textContent))")]


def test_home_shows_figures_and_search_finds_places_and_documents(page):
    page.goto("/")
    total = page.get_by_test_id("total-idps").inner_text()
    assert re.fullmatch(r"\d{1,3}(,\d{3})+", total), total  # published IDPs, English digits
    countries = page.locator(".figures .figure a.value").evaluate_all("as => as.map(a => a.getAttribute('href'))")
    assert sorted(countries) == ["/countries/NGA", "/countries/SSD", "/countries/TCD"]  # AFG is unpublished

    page.fill("header input[name=q]", "Borno")
    page.press("header input[name=q]", "Enter")
    page.wait_for_url(re.compile(r"/search\?q=Borno"))
    places = page.locator("section", has=page.locator("h2", has_text="Places"))
    assert places.get_by_role("link", name="Borno", exact=True).count() == 1
    assert "NG008" in places.inner_text()

    page.goto("/documents")
    page.fill("#doc-filters input[name=q]", "Borno")
    page.click("#doc-filters button")
    page.wait_for_url(re.compile(r"q=Borno"))
    titles = page.locator("article.doc h2").all_inner_texts()
    assert any("Nigeria" in t and "Round 46" in t for t in titles), titles


def test_import_locates_the_error_then_the_fixed_file_commits(page, portal, tmp_path):
    sign_in(page, portal, "editor-nga")
    bad = write_csv(tmp_path / "abadam-r47-bad.csv", _rows(47, "2024-08-31", {"Conflict": 4321, "Natural disaster": -40}))
    assert upload(page, bad) == "rejected"
    findings = page.locator("#findings tbody tr").evaluate_all(
        "rows => rows.map(r => Array.from(r.cells, c => c.textContent.trim()))")
    # severity, code, file, row, column, value, message; the header and HXL rows are rows 1 and 2
    located = [f for f in findings if f[1] == "negative-count"]
    assert [(f[0], f[2], f[3], f[4], f[5]) for f in located] == \
        [("error", "abadam-r47-bad.csv", "4", "numPresentIdpInd", "-40")]
    assert "negative-count" in page.locator("#finding-counts").inner_text()
    log_first = page.locator("main > table.data").last.locator("tbody tr").first.inner_text()
    assert "abadam-r47-bad.csv" in log_first and "rejected" in log_first
    assert records_cells(page, "place=NG008001&round=47") == NO_RECORDS  # nothing was stored

    good = write_csv(tmp_path / "abadam-r47.csv", _rows(47, "2024-08-31", {"Conflict": 4321, "Natural disaster": 40}))
    assert upload(page, good) == "committed"
    assert "2 new" in page.locator("#import-result p.ok").inner_text()
    assert page.locator("#findings tbody tr.error").count() == 0
    rows = records_cells(page, "place=NG008001&round=47")
    assert len(rows) == 2
    assert all("NG008001" in r and "47" in r for r in rows)
    assert sorted(c for r in rows for c in r if c in ("4,321", "40")) == ["4,321", "40"]  # English digits


def test_country_page_draws_map_and_chart_and_sorts_its_table(page, tmp_path):
    page.goto("/countries/NGA")
    page.wait_for_selector("#map[data-state=ready]")
    page.wait_for_selector("#chart[data-state=ready]")
    areas = page.locator("#map path.leaflet-interactive")
    assert areas.count() >= 3  # the three North-East states at least
    fills = set(areas.evaluate_all("ps => ps.map(p => p.getAttribute('fill'))"))
    assert len(fills - {"#d4d4d4"}) >= 2  # areas with data get palette colours, not only "no data" grey
    assert int(page.get_attribute("#map", "data-features")) >= 3
    chart = page.locator("#chart svg")
    assert chart.count() == 1
    assert page.locator("#chart svg .mark-symbol path, #chart svg .mark-line path").count() >= 2  # rounds drawn

    table = page.locator("#place-table")
    values = "t => Array.from(t.tBodies[0].rows, r => Number(r.cells[2].dataset.sort))"
    header = table.locator("thead th").nth(2)
    header.click()
    ascending = table.evaluate(values)
    assert len(ascending) >= 3 and ascending == sorted(ascending)
    assert header.get_attribute("aria-sort") == "ascending"
    header.click()
    assert table.evaluate(values) == sorted(ascending, reverse=True)
    assert header.get_attribute("aria-sort") == "descending"
    page.screenshot(path=str(tmp_path / "country-nga.png"), full_page=True)


def test_editor_publishes_and_the_public_then_sees_the_new_row(open_context, portal, tmp_path):
    editor = open_context().new_page()
    sign_in(editor, portal, "editor-nga")
    new = write_csv(tmp_path / "abadam-r48.csv", _rows(48, "2024-10-31", {"Conflict": 5151}))
    assert upload(editor, new) == "committed"

    public = open_context().new_page()
    assert records_cells(public, "place=NG008001&round=48") == NO_RECORDS  # committed, not released
    assert len(records_cells(editor, "place=NG008001&round=48")) == 1  # the editor sees its own country's work

    editor.goto("/countries/NGA")
    releases = editor.locator("h2:has-text('Releases') + ul li")
    before = releases.count()
    editor.fill("form.publish input[name=note]", "round 48 for Abadam")
    editor.click("form.publish button")
    editor.wait_for_url(re.compile(r"/countries/NGA\?published=1"))
    assert editor.locator("main p.ok").count() == 1
    assert releases.count() == before + 1
    assert any("round 48 for Abadam" in r for r in releases.all_inner_texts())

    rows = records_cells(public, "place=NG008001&round=48")
    assert len(rows) == 1 and "5,151" in rows[0] and "NG008001" in rows[0]


def test_french_interface_persists_across_pages_and_loads(open_context):
    context = open_context()
    page = context.new_page()
    page.goto("/")
    assert page.get_attribute("html", "lang") == "en"
    english_total = page.get_by_test_id("total-idps").inner_text()

    page.click(".langs a[hreflang=fr]")
    page.wait_for_selector("html[lang=fr]")
    total = page.get_by_test_id("total-idps").inner_text()
    assert NARROW_NBSP in total and total.replace(NARROW_NBSP, "") == english_total.replace(",", "")
    assert page.locator(".langs strong[lang=fr]").count() == 1  # the current language is no longer a link
    if FR_CATALOGUE.exists():
        from babel.messages.pofile import read_po

        with FR_CATALOGUE.open("rb") as fh:
            countries = read_po(fh, locale="fr").get("Countries")
        if countries is not None and countries.string:
            assert page.locator("header nav a[href='/countries']").inner_text() == countries.string

    page.click("header nav a[href='/countries']")
    page.wait_for_url(re.compile(r"/countries$"))
    assert page.get_attribute("html", "lang") == "fr"

    again = context.new_page()  # a new page load keeps the choice (the cookie)
    again.goto("/countries/NGA")
    assert again.get_attribute("html", "lang") == "fr"
    assert again.get_attribute("#map", "data-locale") == "fr"
    figures = again.locator("#place-table tbody td.num").all_inner_texts()
    assert figures and all(NARROW_NBSP in f for f in figures if len(f) > 3)

    again.click(".langs a[hreflang=en]")
    again.wait_for_selector("html[lang=en]")


def test_download_hxl_from_the_country_page(page, tmp_path):
    import hxl

    page.goto("/countries/NGA")
    with page.expect_download() as info:
        page.click("a[href^='/download/dtm_idps?format=hxl'][href$='country=NGA']")
    download = info.value
    assert download.suggested_filename == "dtm_idps_NGA.hxl.csv"
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[1].lstrip(",").startswith("#")
    assert "#affected+idps" in lines[1].split(",")

    data = hxl.data(str(path), hxl.InputOptions(allow_local=True))
    assert "#affected+idps" in [str(c) for c in data.columns]
    countries = {row.get("#country+code") for row in data}
    assert countries == {"NGA"}


def test_unpublished_country_stays_hidden_from_other_editors_and_the_public(open_context, portal):
    admin = open_context().new_page()
    sign_in(admin, portal, "admin")
    shown = records_cells(admin, "country=AFG")
    assert shown and shown != NO_RECORDS and any("AFG" in r for r in shown)  # the records exist

    editor = open_context().new_page()
    sign_in(editor, portal, "editor-nga")
    assert records_cells(editor, "country=AFG") == NO_RECORDS
    assert not any("AFG" in r for r in records_cells(editor, "level=0"))

    public = open_context().new_page()
    assert records_cells(public, "country=AFG") == NO_RECORDS
    public.goto("/countries/AFG")
    assert public.locator("#place-table tbody td.num").count() == 0  # no figure for any place
    assert public.locator("#place-table tbody td[colspan]").count() == 1


def test_api_documentation_renders_offline(page):
    """Swagger UI comes from the vendored files: the operations list draws without any CDN."""
    failed = []
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.goto("/api/docs")
    page.wait_for_selector(".swagger-ui .opblock", timeout=30000)
    assert page.locator(".swagger-ui .opblock").count() > 10
    assert not [u for u in failed if not u.startswith(page.url.split("/api/")[0])]


def test_travel_map_colours_countries_and_moves_through_time(page):
    """The world map colours the released OxCGRT countries by status; a new date redraws the map and the table."""
    page.goto("/travel?date=2020-04-15&source=oxcgrt")
    page.wait_for_selector("#travel-map[data-state=ready][data-day='2020-04-15']")
    fills = page.locator("#travel-map path.leaflet-interactive").evaluate_all(
        "ps => ps.map(p => p.getAttribute('fill'))")
    assert fills.count("#a50026") >= 18  # complete closure: 23 in the file that day, 20 big enough for the outline
    assert int(page.get_attribute("#travel-map", "data-features")) >= 25  # 27 of the 32 are in the outline
    page.fill("#travel-date", "2020-01-10")
    page.dispatch_event("#travel-date", "change")
    page.wait_for_selector("#travel-map[data-state=ready][data-day='2020-01-10']")
    assert page.locator("#travel-status tbody tr[data-status=complete_closure]").count() == 0
    assert page.locator("#travel-status tbody tr[data-status=no_restriction]").count() >= 30  # 31 zeros, one 1
