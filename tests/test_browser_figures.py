"""One figure, one definition, in a real browser: after an editor imports and publishes a new round, the home
page, the country page's chart and map, and the indicator API (what `passage indicators show` prints) agree."""

from __future__ import annotations

import re

from dtm_rows import api_rows, write_csv
from portal import sign_in


def _nga_on_home(page) -> int:
    page.goto("/")
    return int(page.locator("a.value[href='/countries/NGA']").inner_text().replace(",", ""))


def _figures(page) -> dict[str, int]:
    """NGA as the country page draws it (its chart's and map's own data) and as the indicator API gives it."""
    page.goto("/countries/NGA")
    page.wait_for_selector("#chart svg")
    chart = page.request.get(page.get_attribute("#chart", "data-url")).json()["data"]
    mapped = page.request.get("/api/v1/countries/NGA/map?level=1").json()
    shown = page.request.get("/api/v1/indicators/idps_by_country?country=NGA").json()["data"]
    return {"chart": int(chart[-1]["value"]), "map": int(sum(v["value"] for v in mapped["values"])),
            "indicator": int(next(r["value"] for r in shown if r["admin0_pcode"] == "NGA")),
            "chart_date": chart[-1]["date"]}


def test_home_chart_map_and_indicator_agree_after_a_new_round(open_context, portal, tmp_path):
    public = open_context().new_page()
    before, figures = _nga_on_home(public), _figures(public)
    assert (figures["chart"], figures["map"], figures["indicator"]) == (before, before, before)

    editor = open_context().new_page()
    sign_in(editor, portal, "editor-nga")
    added = 19_143
    borno = editor.request.get("/api/v1/countries/NGA/map?level=1").json()["values"]
    latest_borno = next(v["value"] for v in borno if v["code"] == "NG008")
    new_round = api_rows("NGA", [(1, "NG008", "Borno", "", "", 47, "2024-09-30", "Conflict",
                                  int(latest_borno) + added, None, None)])
    editor.goto("/import")
    editor.select_option("select[name=kind]", "dtm")
    editor.set_input_files("input[name=file]", str(write_csv(tmp_path / "borno-r47.csv", new_round)))
    editor.click("#import-form button")
    assert editor.locator("#import-result").get_attribute("data-status") == "committed"
    editor.goto("/countries/NGA")
    editor.fill("form.publish input[name=note]", "round 47 for Borno")
    editor.click("form.publish button")
    editor.wait_for_url(re.compile(r"/countries/NGA\?published=1"))

    after = _nga_on_home(public)
    figures = _figures(public)
    assert after == before + added
    assert (figures["chart"], figures["map"], figures["indicator"]) == (after, after, after)
    assert figures["chart_date"] == "2024-09-30"
