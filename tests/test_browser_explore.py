"""In Chromium: the records page explored like Datasette (facets, columns, download this view), the XLSX's
metadata sheet, a record's history after a web edit, and the records page on a 390 px phone."""

from __future__ import annotations

import csv
import io
import re

import openpyxl

from portal import sign_in

RECORDS = "/datasets/dtm_idps/records"


def count(page) -> int:
    return int(page.get_attribute("#record-count", "data-count"))


def test_a_facet_click_narrows_the_count_and_a_download_holds_exactly_the_view(page):
    page.goto(RECORDS)
    everything = count(page)
    shown = page.locator("#record-count").inner_text()
    assert re.fullmatch(r"[\d,]+ records", shown) and "," in shown  # grouped in English
    page.select_option("#add-facet select[name=_facet]", "admin1_name")
    page.click("#add-facet button")
    page.wait_for_url(re.compile(r"_facet=admin1_name"))
    facet = page.locator('.facet[data-facet="admin1_name"]')
    first = facet.locator("li a[data-value]").first
    value, listed = first.get_attribute("data-value"), first.locator("xpath=..").locator(".count").inner_text()
    first.click()
    page.wait_for_url(re.compile(r"admin1_name="))
    narrowed = count(page)
    assert narrowed == int(listed.replace(",", "")) and 0 < narrowed < everything
    assert page.locator(f'.facet[data-facet="admin1_name"] li.selected:has-text("{value}")').count() == 1

    page.select_option("#add-filter select[name=_add_column]", "num_present_idp_ind")
    page.select_option("#add-filter select[name=_add_op]", "gte")
    page.fill("#add-filter input[name=_add_value]", "1000")
    page.click("#add-filter button")
    page.wait_for_url(re.compile(r"num_present_idp_ind__gte=1000"))
    filtered = count(page)
    assert 0 < filtered < narrowed
    assert page.locator(".chip", has_text="≥ 1000").count() == 1

    with page.expect_download() as got:
        page.click('#download-view a[data-format="csv"]')
    rows = list(csv.DictReader(io.StringIO(got.value.path().read_text(encoding="utf-8"))))
    assert len(rows) == filtered
    assert {r["admin1Name"] for r in rows} == {value} and min(int(r["numPresentIdpInd"]) for r in rows) >= 1000

    with page.expect_download() as got:
        page.click('#download-view a[data-format="xlsx"]')
    book = openpyxl.load_workbook(io.BytesIO(got.value.path().read_bytes()), read_only=True)
    assert book.sheetnames[-1] == "metadata"
    meta = {r[0]: r[1] for r in book["metadata"].iter_rows(values_only=True) if r and r[0]}
    assert meta["Rows"] == filtered and value in meta["Filters"] and "≥ 1000" in meta["Filters"]
    assert len(list(book.worksheets[0].iter_rows(values_only=True))) == filtered + 1


def test_sorting_and_the_column_chooser_live_in_the_url(page):
    page.goto(RECORDS + "?country=NGA")
    heads = page.locator("#records thead th[data-column]")
    assert "Admin 1 name" in heads.all_inner_texts() and "admin1_name" not in heads.all_inner_texts()  # labels
    assert page.locator('#records thead th[data-column="_place_code"]').count() == 0  # system: hidden

    page.click('#records thead th[data-column="num_present_idp_ind"] a')
    page.wait_for_url(re.compile(r"_sort=num_present_idp_ind"))
    col = page.locator('#records thead th[data-column]').evaluate_all(
        "hs => hs.map(h => h.dataset.column)").index("num_present_idp_ind") + 1
    values = page.locator("#records tbody tr").evaluate_all(
        f"rs => rs.map(r => r.cells[{col}].textContent.trim())")
    numbers = [int(v.replace(",", "")) for v in values if v]
    assert numbers == sorted(numbers) and len(numbers) > 10

    page.click("#column-chooser summary")
    page.uncheck('#column-chooser input[value="operation"]')
    page.check('#column-chooser input[value="_place_code"]')
    page.click("#column-chooser button")
    page.wait_for_url(re.compile(r"_col="))
    names = heads.evaluate_all("hs => hs.map(h => h.dataset.column)")
    assert "operation" not in names and "_place_code" in names and "admin1_name" in names
    assert "_sort=num_present_idp_ind" in page.url and "country=NGA" in page.url  # the rest of the view kept
    shared = page.context.new_page()  # the URL alone makes the same view
    shared.goto(page.url)
    assert shared.locator("#records thead th[data-column]").evaluate_all(
        "hs => hs.map(h => h.dataset.column)") == names


def test_a_web_edit_shows_in_the_records_history(open_context, portal):
    editor = open_context().new_page()
    sign_in(editor, portal, "editor-nga")
    editor.goto(RECORDS + "?country=NGA&level=2&num_present_idp_ind__gte=1")
    editor.locator("#records tbody tr a").first.click()
    editor.wait_for_url(re.compile(r"/records/dtm_idps/"))
    history = editor.locator("#record-history li")
    assert history.count() >= 1
    assert re.search(r"imported from \S+ row \d+", history.first.inner_text())
    field = editor.locator("input[name=f_num_present_idp_ind]")
    field.fill(str(int(field.input_value()) + 3))
    editor.click("form.edit button")
    editor.wait_for_url(re.compile(r"saved=1"))
    latest = editor.locator("#record-history li").last
    assert "edited on the web by editor-nga" in latest.inner_text()
    assert "imported from" not in latest.inner_text()  # the edit is not the file's row


def test_the_records_page_fits_a_phone(open_context):
    context = open_context()
    phone = context.new_page()
    phone.set_viewport_size({"width": 390, "height": 844})
    phone.goto(RECORDS + "?_facet=admin1_name")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width  # no page-level horizontal scroll
    box = phone.locator("#records-box")
    assert box.evaluate("b => b.scrollWidth > b.clientWidth")  # the table scrolls in its own box
    assert box.evaluate("b => getComputedStyle(b).overflowX") in ("auto", "scroll")
    phone.goto("/datasets/dtm_idps")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
