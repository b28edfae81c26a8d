"""The annual report in Chromium: the portal page and the CLI's standalone report.html fit a laptop (1366 px) and a
phone (390 px) without sideways scrolling, the portal's own styles do not reach the report's figures, and the page
reads in French (headings, and countries named as French readers name them)."""

from __future__ import annotations

import shutil

import pytest
from lxml import html as lhtml

from passage.store import open_store
from passage.web.i18n import translations
from portal import sign_in

YEAR = 2020
WIDTHS = (1366, 390)
WIDTH_JS = "() => [document.documentElement.scrollWidth, window.innerWidth]"


@pytest.fixture(scope="module")
def standalone(seeded_portal_store, tmp_path_factory):
    """The report.html `passage report annual` writes, over a copy of the demo store."""
    from passage.packs.institutional.report.annual import render_annual

    path, _ = seeded_portal_store
    folder = tmp_path_factory.mktemp("standalone")
    shutil.copyfile(path, folder / path.name)
    with open_store(str(folder / path.name)) as s:
        render_annual(s, YEAR, html_path=folder / "report.html")
    return folder / "report.html"


def _fits(page, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    scroll, inner = page.evaluate(WIDTH_JS)
    assert inner == width
    assert scroll <= width, f"{page.url} is {scroll} px wide at {width} px"


def test_portal_report_fits_laptop_and_phone_widths(page, portal):
    sign_in(page, portal, "admin")
    page.goto(f"/reports/annual/{YEAR}")
    assert page.locator(".passage-report .rpt-figure").count() >= 20
    for width in WIDTHS:
        _fits(page, width)
        figure = page.locator(".passage-report .rpt-figure").first
        style = figure.evaluate("e => [getComputedStyle(e).display, getComputedStyle(e).borderTopWidth]")
        assert style == ["inline", "0px"], "the portal's .figure cards do not reach the report's figures"
        notes = page.locator("#notes").evaluate("e => e.getBoundingClientRect().right")
        assert notes <= width


def test_standalone_report_fits_laptop_and_phone_widths(page, standalone):
    page.goto(standalone.as_uri())
    assert page.locator(".rpt-figure").count() >= 20
    for width in WIDTHS:
        _fits(page, width)
    wide = page.locator(".rpt-wide").first  # a wide annex table scrolls inside its own box, not the page
    assert wide.evaluate("e => getComputedStyle(e).overflowX") == "auto"


def test_french_page_shows_french_headings_and_country_names(open_context, portal):
    ctx = open_context()
    page = ctx.new_page()
    sign_in(page, portal, "admin")
    page.goto("/language/fr?next=/reports/annual/2020")
    page.goto(f"/reports/annual/{YEAR}")
    assert page.locator("html").get_attribute("lang") == "fr"
    assert page.locator(".passage-report").get_attribute("lang") == "fr"
    assert page.title().startswith("Rapport annuel")
    fr = translations("fr")
    doc = lhtml.fromstring(page.content())
    h2 = [" ".join(h.text_content().split()) for h in doc.xpath("//article//h2")]
    english = ["The year in figures", "Displacement tracking", "Institutional reporting", "Revenue and expenditure",
               "Staff and gender balance"]
    assert [fr.gettext(e) for e in english] == [h for h in h2 if h in {fr.gettext(e) for e in english}]
    assert doc.xpath("//article//table[contains(@class, 'rpt-figures')]//th")[0].text_content() == "Indicateur"
    # the annexes name nationalities as French readers do (CLDR's names), not as the English register writes them
    annex = " ".join(doc.xpath("//table[@id='table-annex3_professional']//td[2]//text()"))
    assert "Algérie" in annex and "Allemagne" in annex and "Algeria" not in annex
    for width in WIDTHS:
        _fits(page, width)
