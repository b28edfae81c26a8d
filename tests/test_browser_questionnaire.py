"""The office questionnaire in a real browser (Debian's Chromium driven by Playwright) over the seeded demo.

The demo's Vanuatu office (CO-VUT) has a draft; its editor `editor-co-vut`, its regional office's approver
`approver-bkk` and headquarters' `hq-reporting` are demo accounts. The tests run in file order on one portal:
the draft is looked at and autosaved first, then submitted and approved.
"""

from __future__ import annotations

import re

from playwright.sync_api import expect

from passage.packs.institutional import load_questionnaire
from portal import sign_in

WAIT_MS = 30_000
OFFICE = "/questionnaire/2020/CO-VUT"
# Every mandatory answer but one (evaluation_use), with the skip logic's branches closed (no reintegration,
# no PSEA network, no gender focus) so that no hidden question is needed.
ALMOST = {
    "collected_data": "yes", "data_sources": ["dtm"], "data_capacity": "no", "published_research": "yes",
    "feedback_mechanism": "yes", "complaints_sop": "no", "aap_in_strategy": "no", "aap_focal_point": "no",
    "psea_network": "no", "psea_referral": "none", "psea_staff_trained": "12", "psea_external_trained": "0",
    "reintegration": "no", "sdg_support": "yes", "cca_migration": "yes", "cooperation_framework": "no",
    "joint_programming": "yes", "migration_network": "no", "rcp_engagement": "no", "private_sector": "no",
    "civil_society": "yes", "igo_cooperation": "no", "climate_programming": "yes", "border_management": "yes",
    "gender_focus": "no", "risk_projects": "yes", "risk_assessment": "no",
}


def label(name: str, lang: str = "en") -> str:
    return load_questionnaire().question(name).text(lang)


def test_menu_has_reports_and_approvers_have_their_tasks(open_context, portal):
    page = open_context().new_page()
    sign_in(page, portal, "approver-bkk")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="My tasks")).to_be_visible()
    reports = nav.get_by_role("link", name="Reports")
    expect(reports).to_have_attribute("href", "/reports/annual")
    # it opens the latest year's annual report (followed without rendering it: that page has its own tests)
    opened = page.request.get("/reports/annual", max_redirects=0)
    assert opened.status == 303 and opened.headers["location"] == "/reports/annual/2020"
    editor = open_context().new_page()
    sign_in(editor, portal, "editor-co-vut")
    nav = editor.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Reports")).to_be_visible()
    expect(nav.get_by_role("link", name="My tasks")).to_have_count(0)  # a country office approves nothing


def test_unanswered_questions_by_label_and_the_french_page(open_context, portal):
    page = open_context().new_page()
    sign_in(page, portal, "editor-co-vut")
    page.goto(OFFICE)
    missing = page.locator("#missing-answers a")
    expect(missing.first).to_have_text(label("data_capacity"))
    expect(page.locator("#missing-count")).to_have_text(str(missing.count()))
    assert missing.count() > 8 and "data_capacity" not in missing.all_text_contents()
    page.locator("#missing summary").click()  # a long list starts folded
    missing.first.click()
    page.wait_for_url(re.compile(r"#q-data_capacity$"))
    expect(page.locator("#q-data_capacity")).to_be_in_viewport()
    page.get_by_role("link", name="Français").click()
    page.wait_for_url(re.compile(r"/questionnaire/2020/CO-VUT$"))
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.locator("#label-collected_data")).to_contain_text(label("collected_data", "fr"))
    expect(page.locator("#missing-answers a").first).to_have_text(label("data_capacity", "fr"))
    expect(page.locator("#s-return_reintegration legend")).to_have_text("Retour et réintégration")
    assert label("collected_data", "fr") != label("collected_data")


def test_autosave_survives_a_reload_and_leaving_the_page(open_context, portal):
    page = open_context().new_page()
    sign_in(page, portal, "editor-co-vut")
    page.goto(OFFICE)
    version = int(page.locator("#questionnaire").get_attribute("data-version"))
    page.fill("textarea[name=q_comments]", "Autosaved while typing")
    status = page.get_by_test_id("autosave-status")
    expect(status).to_have_attribute("data-state", "saved", timeout=WAIT_MS)
    expect(status).to_have_text(re.compile(r"^Draft saved at \d\d:\d\d$"))
    page.reload()
    expect(page.locator("textarea[name=q_comments]")).to_have_value("Autosaved while typing")
    assert int(page.locator("#questionnaire").get_attribute("data-version")) == version + 1
    # typed, then the page is left at once (before the autosave's delay): sent as the page goes, kept meanwhile
    page.fill("textarea[name=q_highlights]", "Typed just before leaving")
    page.goto("/")
    page.goto(OFFICE)
    expect(page.locator("textarea[name=q_highlights]")).to_have_value("Typed just before leaving")
    page.reload()  # and it is on the server, not only in this browser
    expect(page.locator("textarea[name=q_highlights]")).to_have_value("Typed just before leaving")
    expect(page.locator("textarea[name=q_comments]")).to_have_value("Autosaved while typing")
    # the portal out of reach: the answer stays in the browser and comes back, then reaches the server
    page.route("**/autosave", lambda route: route.abort())
    page.fill("textarea[name=q_comments]", "Typed while offline")
    expect(status).to_have_attribute("data-state", "error", timeout=WAIT_MS)
    expect(status).to_contain_text("could not be reached")
    page.reload()
    expect(page.locator("textarea[name=q_comments]")).to_have_value("Typed while offline")
    expect(page.locator("#questionnaire")).to_have_attribute("data-restored", "true")  # from this browser
    page.unroute("**/autosave")
    page.fill("textarea[name=q_comments]", "Typed while offline, then online")
    expect(status).to_have_attribute("data-state", "saved", timeout=WAIT_MS)
    page.reload()
    expect(page.locator("textarea[name=q_comments]")).to_have_value("Typed while offline, then online")


def test_submit_without_saving_then_the_approver_bulk_approves(browser, open_context, portal):
    """The last answers are typed and Submit pressed with no Save (scripts off, so no autosave can have saved
    them): they are saved and the office submitted. Then the region's approver approves it with another."""
    client = portal.client("editor-co-vut")
    csrf = client.get(OFFICE).text.split('name="csrf_token" value="')[1].split('"')[0]
    data = {f"q_{k}": v for k, v in ALMOST.items()} | {"csrf_token": csrf}
    assert client.post(OFFICE, data=data).status_code == 303
    plain = browser.new_context(base_url=portal.url, locale="en-US", java_script_enabled=False)
    try:
        plain.set_default_timeout(WAIT_MS)
        page = plain.new_page()
        sign_in(page, portal, "editor-co-vut")
        page.goto(OFFICE)
        expect(page.locator("#missing-answers a")).to_have_text([label("evaluation_use")])
        page.check("input[name=q_evaluation_use][value=yes]")
        page.fill("textarea[name=q_highlights]", "Written and submitted at once")
        page.get_by_test_id("submit").click()
        page.wait_for_url(re.compile(r"\?done=submit$"))
        expect(page.get_by_test_id("state")).to_have_attribute("data-state", "submitted")
        expect(page.locator("dd[data-question=highlights]")).to_have_text("Written and submitted at once")
        expect(page.locator("dd[data-question=evaluation_use]")).to_have_text("Yes")
    finally:
        plain.close()

    # the region's submitted offices, as the status API lists them (not through the tasks page's own query)
    rows = portal.client("approver-bkk").get("/api/v1/questionnaire/2020/status", params={"region": "RO-BKK"})
    submitted = sorted(r["office"] for r in rows.json()["data"] if r["state"] == "submitted" and r["kind"] == "country")
    assert "CO-VUT" in submitted and len(submitted) >= 2
    page = open_context().new_page()
    sign_in(page, portal, "approver-bkk")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My tasks").click()
    page.wait_for_url(re.compile(r"/questionnaire/tasks$"))
    listed = page.locator("#tasks tbody tr")
    expect(listed).to_have_count(len(submitted))
    assert sorted(listed.evaluate_all("rows => rows.map(r => r.dataset.office)")) == submitted
    two = ["CO-VUT", next(o for o in submitted if o != "CO-VUT")]
    for office in two:
        page.check(f"#tasks input[name=office][value={office}]")
    page.get_by_test_id("bulk-approve").click()
    done = page.get_by_test_id("done")
    expect(done).to_contain_text("2 questionnaires done")
    for office in two:
        expect(done).to_contain_text(office)
        expect(page.locator(f"#tasks tr[data-office={office}]")).to_have_count(0)
    states = {r["office"]: r["state"] for r in
              portal.client("approver-bkk").get("/api/v1/questionnaire/2020/status").json()["data"]}
    assert [states[o] for o in two] == ["approved", "approved"]
    page.goto(f"/questionnaire/2020/{two[1]}")
    expect(page.locator("#history tbody tr").last).to_contain_text("approver-bkk")
