"""The annual report: HTML and PDF from templates, every figure traced to a note, charts as SVG, the
consistency rules before rendering, and the portal page. One store (demo DTM rounds, the finance demo, the
shared staff register, the questionnaire demo) is built per module and rendered once; expected values are
computed here from the source files or with plain SQL, not with the report's code."""

from __future__ import annotations

import csv
import re
import shutil
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import etree
from lxml import html as lhtml

from passage.cli import main
from passage.packs.institutional.report.annual import build, render_annual
from passage.packs.institutional.report.finance import DEMO_CSV, import_finance
from passage.store import open_store

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
REGISTER = SHARED / "seed" / "staff_register_2020.csv"
YEAR = 2020


def wait_for_pdf(client, url: str, headers: dict, attempts: int = 600):
    """Ask for the PDF until it comes (each answer meanwhile is 202 "preparing"): a bounded wait, not a timed one."""
    import time

    for _ in range(attempts):
        r = client.get(url, headers=headers)
        if r.status_code != 202:
            assert r.status_code == 200, r.text[:500]
            return r
        assert r.json()["status"] == "preparing"
        time.sleep(0.2)
    raise AssertionError(f"{url} still preparing after {attempts} polls")


def _classed(doc, cls: str, tag: str = "*") -> list:
    return doc.xpath(f"//{tag}[contains(concat(' ', normalize-space(@class), ' '), ' {cls} ')]")


def _load_questionnaire_demo(store) -> None:
    from passage.packs.institutional import load_demo_questionnaire  # offices, answers, workflow states

    load_demo_questionnaire(store)


@pytest.fixture(scope="module")
def small_db(tmp_path_factory) -> Path:
    """Demo DTM rounds and the finance demo: a report without annexes (fast to print)."""
    from passage.packs.dtm.demo import run_demo

    work = tmp_path_factory.mktemp("small")
    path = work / "small.duckdb"
    with open_store(str(path)) as s:
        run_demo(s, work / "demo", rounds=30)  # 30 rounds reach back before 2020 for every operation
        assert import_finance(s, DEMO_CSV).status == "committed"
    return path


@pytest.fixture(scope="module")
def report_db(small_db, tmp_path_factory) -> Path:
    """Everything: the small store plus the shared staff register and the questionnaire's demo."""
    path = tmp_path_factory.mktemp("report") / "report.duckdb"
    shutil.copyfile(small_db, path)
    with open_store(str(path)) as s:
        from passage.ingest import import_files

        assert import_files(s, "staff-register", [REGISTER]).status == "committed"
        _load_questionnaire_demo(s)
    return path


@pytest.fixture(scope="module")
def rendered(report_db, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    with open_store(str(report_db)) as s:
        result = render_annual(s, YEAR, html_path=out / "report.html", pdf_path=out / "report.pdf")
    return result, lhtml.fromstring(result.html)


def _fig(doc, name: str):
    found = doc.xpath(f"//span[@data-indicator='{name}' and contains(@class, 'rpt-figure')]")
    assert found, f"no figure {name} in the report"
    return found[0]


def _value(doc, name: str) -> str:
    return _fig(doc, name).xpath(".//span[@class='rpt-value']")[0].text_content()


# ---- HTML and traceability --------------------------------------------------------------------------------

def test_the_report_renders_its_sections(rendered):
    result, doc = rendered
    assert result.html_path.read_text(encoding="utf-8") == result.html
    for section in ("overview", "operations", "institutional", "finance", "staff", "annex-1", "notes"):
        assert doc.get_element_by_id(section) is not None
    assert doc.xpath("//h1")[0].text_content() == f"Annual report for {YEAR}"
    assert result.figure_count >= 8


def test_every_figure_chart_and_table_has_a_note_that_resolves(rendered):
    result, doc = rendered
    figs = _classed(doc, "rpt-figure", "span")
    assert len(figs) >= 8
    for el in [*figs, *_classed(doc, "rpt-chart", "figure")]:
        note_id = el.get("data-note")
        note = doc.get_element_by_id(note_id)
        assert el.xpath(f".//a[@href='#{note_id}']"), "the superscript links to the note"
        if el.tag == "span":
            assert note.get("data-indicator") == el.get("data-indicator")
            assert note.xpath(".//code")[0].text == el.get("data-indicator")
        assert len(note.text_content().split()) > 8, "a note says more than the name"
    for ref in doc.xpath("//table//caption//a[starts-with(@href, '#note-')]"):
        assert doc.get_element_by_id(ref.get("href")[1:]) is not None
    numbers = [int(li.get("id").split("-")[1]) for li in doc.xpath("//section[@id='notes']//li")]
    assert numbers == list(range(1, len(numbers) + 1)) == [n.number for n in result.notes]


def test_no_number_in_the_text_comes_without_a_note(rendered):
    """Outside figures, charts, tables, notes and the checks box, the only numbers are years and grade names."""
    _, doc = rendered
    doc = lhtml.fromstring(lhtml.tostring(doc))
    for cls in ("rpt-figure", "rpt-notes", "rpt-checks", "rpt-generated", "rpt-ref"):
        for el in _classed(doc, cls):
            el.drop_tree()
    for el in doc.xpath("//table | //svg | //style | //head"):
        el.drop_tree()
    text = re.sub(r"\b(?:19|20)\d\d\b|\bP-\d\b", "", doc.text_content())
    assert not re.findall(r".{30}\d.{10}", text, flags=re.DOTALL)


def test_a_note_names_the_records_and_the_imported_file(rendered):
    _, doc = rendered
    note = doc.get_element_by_id(_fig(doc, "revenue").get("data-note"))
    text = note.text_content()
    assert "/records/finance/finance-2020" in text and "finance-demo.csv" in text
    assert "paragraph 149" in text  # the cited source of the demo figure
    idps = doc.get_element_by_id(_fig(doc, "idps_total").get("data-note")).text_content()
    assert "passage indicators show idps" in idps and "sha256" in idps


def test_finance_figures_equal_the_input_file(rendered):
    _, doc = rendered
    with DEMO_CSV.open(encoding="utf-8") as fh:
        rows = {int(r["year"]): r for r in csv.DictReader(fh)}
    revenue, before = float(rows[YEAR]["revenue_usd_million"]), float(rows[YEAR - 1]["revenue_usd_million"])
    assert _value(doc, "revenue") == f"USD {revenue:,.1f} million" == "USD 2,182.7 million"
    assert _value(doc, "revenue_change") == f"{round((revenue - before) / before * 100)} %"
    assert _value(doc, "expenditure") == "USD 2,178.0 million"


def test_idps_figure_equals_plain_sql_over_the_records(rendered, report_db):
    """Latest admin 0 round per operation up to 31 December, summed: computed here with SQL, not with Ibis."""
    _, doc = rendered
    with open_store(str(report_db)) as s:
        expected = s.scalar("""
            WITH t AS (SELECT admin0_pcode, operation, assessment_type, round_number, reporting_date,
                              sum(num_present_idp_ind) AS idps
                       FROM dtm_idps WHERE admin_level = 0 AND reporting_date <= ?
                       GROUP BY ALL),
                 r AS (SELECT *, row_number() OVER (PARTITION BY admin0_pcode, operation, assessment_type
                                                    ORDER BY round_number DESC, reporting_date DESC) AS rn FROM t)
            SELECT sum(idps) FROM r WHERE rn = 1""", [date(YEAR, 12, 31)])
        countries = s.scalar("SELECT count(DISTINCT admin0_pcode) FROM dtm_idps WHERE admin_level = 0 "
                             "AND reporting_date <= ?", [date(YEAR, 12, 31)])
    assert expected > 0
    assert _value(doc, "idps_total") == f"{expected:,}"
    assert _value(doc, "idps_countries") == str(countries)


def test_staff_figures_equal_counts_from_the_register(rendered):
    _, doc = rendered
    with REGISTER.open(encoding="utf-8") as fh:
        staff = list(csv.DictReader(fh))
    prof = [r for r in staff if r["category"] == "Professional and higher"]
    women = sum(1 for r in prof if r["sex"] == "F")
    assert _value(doc, "staff_total") == f"{len(staff):,}"
    assert _value(doc, "staff_professional") == f"{len(prof):,}"
    assert _value(doc, "women_professional_share") == f"{round(women / len(prof) * 100)} %"


def test_questionnaire_figures_equal_plain_sql_over_the_answers(rendered, report_db):
    """Offices whose 2020 questionnaire counts (submitted, approved, locked), and those answering yes."""
    _, doc = rendered
    with open_store(str(report_db)) as s:
        yes, counted = s.query(
            "SELECT count(*) FILTER (WHERE r.collected_data = 'yes'), count(*) FROM institutional_questionnaire r "
            "JOIN questionnaire_states q ON q.office_code = r.office AND q.year = r.year "
            "WHERE r.year = ? AND q.state IN ('submitted', 'approved', 'locked')", [YEAR])[0]
        expected = s.scalar("SELECT count(*) FROM places WHERE kind = 'office' AND level IN (11, 12)")
    assert _value(doc, "migration_data_collected") == f"{yes} offices ({int(yes / counted * 100 + 0.5)} %)"
    assert (yes, counted) == (130, 169)  # the demo is calibrated to the report's "130 IOM offices (77%)"
    assert _value(doc, "offices_submitted") == str(counted)
    assert _value(doc, "offices_total") == str(expected)
    assert _value(doc, "participation_rate") == f"{int(counted / expected * 100 + 0.5)} %"
    note = doc.get_element_by_id(_fig(doc, "migration_data_collected").get("data-note")).text_content()
    assert f"/questionnaire/{YEAR}/figures/migration_data_collected" in note and "Denominator: 169" in note


# ---- charts and PDF ---------------------------------------------------------------------------------------

def test_charts_are_valid_svg(rendered):
    result, doc = rendered
    charts = _classed(doc, "rpt-chart", "figure")
    expected = {"chart-idps", "chart-finance", "chart-gender", "chart-participation"}
    assert {c.get("id") for c in charts} >= expected
    svgs = re.findall(r"<svg\b.*?</svg>", result.html, flags=re.DOTALL)
    assert len(svgs) == len(charts)
    for svg in svgs:
        root = etree.fromstring(svg.encode("utf-8"))
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        assert root.get("role") == "img" and root.get("aria-label")
        assert len(root.findall(".//{http://www.w3.org/2000/svg}text")) > 3  # axis labels and titles
        assert float(root.get("width")) > 100
    ids = re.findall(r'\bid="([^"]+)"', result.html)
    assert len(ids) == len(set(ids)), "ids are unique across the inlined charts"


def test_the_pdf_has_pages_numbers_and_charts(rendered):
    from pypdf import PdfReader

    result, _ = rendered
    data = result.pdf_path.read_bytes()
    assert data.startswith(b"%PDF")
    reader = PdfReader(result.pdf_path)
    assert len(reader.pages) == result.pdf_pages > 8
    second = reader.pages[1].extract_text()
    assert f"Page 2 of {len(reader.pages)}" in second
    assert "USD 2,182.7 million" in "".join(p.extract_text() for p in reader.pages[:3])


def test_annex_tables_repeat_their_header_on_every_printed_page(rendered):
    from pypdf import PdfReader

    result, _ = rendered
    pages = [p.extract_text() for p in PdfReader(result.pdf_path).pages]
    first = {h: next(i for i, t in enumerate(pages) if h in t)
             for h in ("Annex II: General", "Annex III: Professional", "Notes on the figures")}
    annex2 = pages[first["Annex II: General"]:first["Annex III: Professional"]]
    annex3 = pages[first["Annex III: Professional"]:first["Notes on the figures"]]
    assert len(annex2) >= 3 and len(annex3) >= 3
    assert all("G-1A" in t and "NO-D" in t and "female" in t for t in annex2)
    assert all("E-1" in t and "P-5" in t and "female" in t for t in annex3)


# ---- templates, rules, degrading ----------------------------------------------------------------------------

def test_a_template_folder_overrides_wording_and_the_numbers_still_come_from_data(report_db, tmp_path):
    mine = tmp_path / "mine" / "sections"
    mine.mkdir(parents=True)
    (mine / "summary.html").write_text(
        '<section id="overview"><h2>Our money</h2><p>We raised {{ fig("revenue") }} this year.</p></section>',
        encoding="utf-8")
    with open_store(str(report_db)) as s:
        result = build(s, YEAR, template_dir=tmp_path / "mine")
    doc = lhtml.fromstring(result.html)
    assert "We raised" in result.html and "The year in figures" not in result.html
    assert _value(doc, "revenue") == "USD 2,182.7 million"
    assert doc.get_element_by_id("finance") is not None  # the other sections are still the pack's
    (mine / "summary.html").write_text('<p>We raised USD {{ fig("revenue_typo") }}.</p>', encoding="utf-8")
    with open_store(str(report_db)) as s, pytest.raises(Exception, match="unknown figure 'revenue_typo'"):
        build(s, YEAR, template_dir=tmp_path / "mine")


def test_without_data_each_section_says_so(store, tmp_path):
    result = render_annual(store, YEAR, html_path=tmp_path / "r.html")
    doc = lhtml.fromstring(result.html)
    assert _classed(doc, "rpt-figure", "span") == []
    notes = [el.text_content() for el in _classed(doc, "rpt-no-data")]
    assert len(notes) >= 5 and all(n.startswith(f"No data for {YEAR}") for n in notes)
    assert any("passage report finance" in n for n in notes)


def test_finance_figures_render_on_duckdb_and_postgresql(any_store):
    assert import_finance(any_store, DEMO_CSV).status == "committed"
    doc = lhtml.fromstring(build(any_store, YEAR).html)
    assert _value(doc, "expenditure") == "USD 2,178.0 million"
    assert _value(doc, "expenditure_change") == "4 %"
    assert "finance-demo.csv" in doc.get_element_by_id(_fig(doc, "expenditure").get("data-note")).text_content()


def test_cli_renders_and_lists_failed_rules(report_db, tmp_path):
    db = tmp_path / "copy.duckdb"
    shutil.copyfile(report_db, db)
    out = CliRunner().invoke(main, ["--db", str(db), "report", "annual", "--year", str(YEAR),
                                    "-o", str(tmp_path / "r.html")])
    assert out.exit_code == 0, out.output
    doc = lhtml.fromstring((tmp_path / "r.html").read_text(encoding="utf-8"))
    assert _value(doc, "revenue") == "USD 2,182.7 million"
    # Table 4's prior figures print 14 % for 2005 where 667 / 5,397 is 12.4 %: an error-severity rule fails
    assert "rule table4.percentage failed (error)" in out.output
    checks = doc.get_element_by_id("checks").text_content()
    assert "table4.percentage" in checks and "12.4" in checks


def test_strict_stops_the_render_when_an_error_rule_fails(report_db, small_db, tmp_path):
    run = CliRunner().invoke
    out = run(main, ["--db", str(report_db), "report", "annual", "--year", str(YEAR),
                     "-o", str(tmp_path / "r.html"), "--pdf", str(tmp_path / "r.pdf"), "--strict"])
    assert out.exit_code == 1
    assert "table4.percentage" in out.output and "not rendered" in out.output
    assert not (tmp_path / "r.html").exists() and not (tmp_path / "r.pdf").exists()
    # without staff tables no rule fails: --strict renders
    ok = run(main, ["--db", str(small_db), "report", "annual", "--year", str(YEAR),
                    "-o", str(tmp_path / "r.html"), "--strict"])
    assert ok.exit_code == 0 and (tmp_path / "r.html").exists()


def test_finance_import_cli_is_idempotent_and_updates_a_year(store_path, tmp_path):
    run = CliRunner().invoke
    assert run(main, ["--db", str(store_path), "report", "finance", "--demo"]).exit_code == 0
    again = run(main, ["--db", str(store_path), "report", "finance", "--demo"])
    assert again.exit_code == 0 and "unchanged" in again.output
    fixed = tmp_path / "finance.csv"
    fixed.write_text("_uuid,year,revenue_usd_million,expenditure_usd_million,source\n"
                     "finance-2020,2020,2190.5,2178.0,audited statements\n", encoding="utf-8")
    assert run(main, ["--db", str(store_path), "report", "finance", str(fixed)]).exit_code == 1  # exists
    assert run(main, ["--db", str(store_path), "report", "finance", str(fixed), "--update"]).exit_code == 0
    with open_store(str(store_path)) as s:
        assert s.query("SELECT revenue_usd_million, _version FROM finance WHERE year = 2020") == [(2190.5, 2)]
    bad = tmp_path / "bad.csv"
    bad.write_text("_uuid,year,revenue_usd_million,source\nx,twenty,-5,\n", encoding="utf-8")
    out = run(main, ["--db", str(store_path), "report", "finance", str(bad)])
    assert out.exit_code == 1


# ---- the portal ---------------------------------------------------------------------------------------------

def test_portal_shows_the_report_and_its_pdf(small_db, tmp_path):
    from fastapi.testclient import TestClient

    from passage.auth.tokens import create_token
    from passage.auth.users import add_user
    from passage.web.app import create_app

    db = tmp_path / "portal.duckdb"
    shutil.copyfile(small_db, db)
    with open_store(str(db)) as s:
        add_user(s, "reader", "a long enough password", "viewer", ["NGA"])
        _, secret = create_token(s, "reader", "tests")
    with TestClient(create_app(str(db))) as client:
        assert client.get(f"/reports/annual/{YEAR}", headers={"accept": "text/html"},
                          follow_redirects=False).status_code in (303, 401)
        auth = {"Authorization": f"Bearer {secret}"}
        page = client.get(f"/reports/annual/{YEAR}", headers=auth)
        assert page.status_code == 200
        assert "script-src 'self'" in page.headers["content-security-policy"]
        doc = lhtml.fromstring(page.text)
        assert _value(doc, "revenue") == "USD 2,182.7 million"
        assert doc.xpath("//a[@href='/records/finance/finance-2020']")
        assert "<script>" not in page.text.split('<article class="passage-report"')[1]
        first = client.get(f"/reports/annual/{YEAR}/report.pdf", headers=auth)
        assert first.status_code == 202 and first.json()["status"] == "preparing"  # built in the background
        pdf = wait_for_pdf(client, f"/reports/annual/{YEAR}/report.pdf", auth)
        assert pdf.content[:4] == b"%PDF" and pdf.headers["content-type"] == "application/pdf"
        assert client.get(f"/reports/annual/{YEAR}/report.pdf", headers=auth).content == pdf.content  # kept


def test_demo_portal_report_has_every_section(portal):
    """`passage serve`'s demo fills the report's staff, questionnaire and finance sections (IDPs start in 2021)."""
    page = portal.client("admin").get("/reports/annual/2020")
    assert page.status_code == 200
    missing = re.findall(r"No data for 2020: ([^<]*)", page.text)
    assert missing and all("IDPs" in m for m in missing), missing
