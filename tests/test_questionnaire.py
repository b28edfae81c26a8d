"""The office questionnaire: offices, the form and its tags, the workflow and its refusals, the figures the
annual report quotes (checked against counts made here with plain SQL and csv), and the portal pages."""

from __future__ import annotations

import csv
import html
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pycountry
import pytest
from openpyxl import load_workbook

from conftest import ROOT, SHARED
from passage.auth import Principal, audit_entries
from passage.errors import EditRejected, Forbidden, UsageError
from passage.forms import compile_xlsform
from passage.packs.institutional import (
    breakdown_sum,
    import_answers,
    indicator_values,
    load_demo_questionnaire,
    load_questionnaire,
    office_share,
    participation,
    save_answers,
    state,
)
from passage.packs.institutional import workflow as wf
from passage.packs.institutional.offices import default_offices_csv, import_offices, list_offices
from passage.store import open_store

PACK = ROOT / "src" / "passage" / "packs" / "institutional"
FORM = PACK / "forms" / "institutional_questionnaire.xlsx"
SDG_CODELIST = SHARED / "iati" / "codelists" / "nonembedded" / "UNSDG-Targets.xml"
ADMIN = Principal("admin", "admin")
VUT_EDITOR = Principal("ed-vut", "editor", {"CO-VUT"})
NGA_EDITOR = Principal("ed-nga", "editor", {"CO-NGA"})
BKK = Principal("ap-bkk", "editor", {"RO-BKK"})
DKR = Principal("ap-dkr", "editor", {"RO-DKR"})
HQ = Principal("hq", "editor", {"HQ"})
COUNTED = ("submitted", "approved", "locked")


# ---- stores ---------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo_template(tmp_path_factory) -> Path:
    """A store with the shipped offices and the generated answers, built once per module."""
    path = tmp_path_factory.mktemp("qdemo") / "q.duckdb"
    with open_store(str(path)) as store:
        load_demo_questionnaire(store, accounts=False)
    return path


@pytest.fixture(scope="module")
def demo(demo_template):
    """The demo store, read-only."""
    with open_store(str(demo_template)) as store:
        yield store


@pytest.fixture
def qstore(demo_template, tmp_path):
    """A private copy of the demo store, for tests that change it."""
    path = tmp_path / "q.duckdb"
    shutil.copyfile(demo_template, path)
    files = demo_template.with_name("q.files")
    if files.exists():
        shutil.copytree(files, tmp_path / "q.files")
    with open_store(str(path)) as store:
        yield store


def _sql_count(store, year: int, where: str, params=()) -> int:
    """Offices with a counted questionnaire matching `where`: plain SQL, independent of the figures module."""
    return store.scalar(
        "SELECT count(*) FROM rec_institutional_questionnaire r JOIN questionnaire_states s "
        "ON s.office_code = r.office AND s.year = r.year WHERE r._current AND NOT r._deleted AND r.year = ? "
        f"AND s.state IN ('submitted', 'approved', 'locked') AND ({where})", [year, *params])


# ---- the form and its tags ------------------------------------------------------------------------------------

def test_form_compiles_with_at_least_25_questions_of_every_kind():
    form = compile_xlsform(FORM)
    assert form.form_id == "institutional_questionnaire"
    from pyxform import xls2xform

    xform = xls2xform.convert(str(FORM), validate=False).xform  # what KoboToolbox / ODK Central deploy
    assert re.search(r'nodeset="/data/return_reintegration/reint_total"[^>]*constraint="\. = coalesce', xform)
    qn = load_questionnaire()
    assert len(qn.questions) >= 25
    kinds = {q.type for q in qn.questions}
    assert {"select_one", "select_multiple", "integer", "text"} <= kinds
    assert sum(1 for q in qn.questions if q.relevant) >= 8  # skip logic
    total = qn.question("reint_total")
    assert "${reint_before}" in total.constraint and "${reint_after}" in total.constraint
    assert ("yes", "Yes") in qn.question("collected_data").choices  # labels read back from pyxform's tree


def test_every_question_is_tagged_with_valid_sdg_gcm_and_srf_codes():
    """Tags read from the workbook with openpyxl, checked against IATI's UNSDG-Targets codelist."""
    sdg = {el.text for el in ET.parse(SDG_CODELIST).getroot().iter("code")}
    assert "10.7" in sdg and len(sdg) == 169
    ws = load_workbook(FORM, read_only=True)["survey"]
    rows = list(ws.iter_rows(values_only=True))
    head = rows[0]
    col = {name: head.index(name) for name in ("type", "name", "sdg_targets", "gcm_objectives", "srf_objective")}
    import yaml

    srf = set(yaml.safe_load((PACK / "pack.yaml").read_text())["questionnaire"]["srf_objectives"])
    questions = [r for r in rows[1:] if r[col["type"]] not in ("begin group", "end group")
                 and r[col["name"]] not in ("office", "year")]
    assert len(questions) >= 25
    for r in questions:
        name = r[col["name"]]
        targets = (r[col["sdg_targets"]] or "").split()
        objectives = (r[col["gcm_objectives"]] or "").split()
        assert targets and set(targets) <= sdg, (name, targets)
        assert objectives and all(1 <= int(o) <= 23 for o in objectives), (name, objectives)
        assert r[col["srf_objective"]] in srf, name
    # and the library reads the same tags
    qn = load_questionnaire()
    by_name = {r[col["name"]]: r for r in questions}
    for q in qn.questions:
        assert " ".join(q.sdg_targets) == by_name[q.name][col["sdg_targets"]]


# ---- offices --------------------------------------------------------------------------------------------------

def test_shipped_office_list_has_headquarters_nine_regions_and_country_offices():
    with default_offices_csv().open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    kinds = [r["kind"] for r in rows]
    assert kinds.count("hq") == 1 and kinds.count("regional") == 9 and 150 <= kinds.count("country") <= 180
    regional = {r["code"]: r for r in rows if r["kind"] == "regional"}
    cities = {r["name"].rsplit(", ", 1)[1] for r in regional.values()}
    assert cities == {"Bangkok", "Brussels", "Buenos Aires", "Cairo", "Dakar", "Nairobi", "Pretoria", "San José",
                      "Vienna"}
    for r in rows:
        assert pycountry.countries.get(alpha_3=r["iso3"]) is not None
        if r["kind"] == "country":
            assert r["parent"] in regional


def test_office_import_loads_places_and_lists_by_region(store):
    n = import_offices(store, default_offices_csv()).value
    assert n == sum(1 for _ in default_offices_csv().open()) - 1
    assert store.scalar("SELECT count(*) FROM places WHERE kind = 'office'") == n
    dakar = list_offices(store, region="RO-DKR")
    assert dakar[0].code == "RO-DKR" and {o.parent for o in dakar[1:]} == {"RO-DKR"}
    assert "CO-NGA" in {o.code for o in dakar}
    # no admin-level query sees an office
    assert store.scalar("SELECT count(*) FROM places WHERE kind = 'office' AND level IN (0, 1, 2, 3)") == 0


def test_bad_office_list_is_rejected_with_located_findings_and_nothing_changes(store, tmp_path):
    bad = tmp_path / "offices.csv"
    bad.write_text("code,name,kind,parent,iso3\n"
                   "HQ,Headquarters,hq,,CHE\n"
                   "RO-X,Region X,regional,HQ,SEN\n"
                   "CO-A,Office A,country,RO-NOPE,NGA\n"     # row 4: parent unknown
                   "NGA,Office B,country,RO-X,NGA\n"        # row 5: three letters (a country code)
                   "CO-C,Office C,embassy,RO-X,XXX\n"       # row 6: kind, iso3
                   "CO-D,,country,RO-X,TCD\n"               # row 7: name missing
                   "CO-E,Office E,country,HQ,TCD\n"         # row 8: a country office under headquarters
                   "CO-A,Office A again,country,RO-X,NGA\n",  # row 9: duplicate
                   encoding="utf-8")
    outcome = import_offices(store, bad)
    assert not outcome.ok and outcome.value is None
    flat = set(outcome.report.flat())
    assert {(5, "code", "institutional.office-code-invalid"), (6, "kind", "choice-unknown"), (6, "iso3", "institutional.office-country-unknown"),
            (7, "name", "required"), (9, "code", "duplicate-key")} <= flat
    assert store.scalar("SELECT count(*) FROM places WHERE kind = 'office'") == 0
    # with the row-level problems fixed, the hierarchy is checked
    bad.write_text("code,name,kind,parent,iso3\nHQ,Headquarters,hq,,CHE\nRO-X,Region X,regional,HQ,SEN\n"
                   "CO-A,Office A,country,RO-NOPE,NGA\nCO-E,Office E,country,HQ,TCD\n", encoding="utf-8")
    outcome = import_offices(store, bad)
    assert set(outcome.report.flat()) == {(4, "parent", "institutional.office-parent-unknown"), (5, "parent", "institutional.office-parent-unknown")}
    assert store.scalar("SELECT count(*) FROM places WHERE kind = 'office'") == 0


# ---- figures on the demo data ---------------------------------------------------------------------------------

def test_headline_figures_are_the_reports_and_match_independent_counts(demo):
    values = indicator_values(demo, 2020)
    responding = _sql_count(demo, 2020, "true")
    assert responding == 169
    collected = values["migration_data_collected"]
    assert collected.value == _sql_count(demo, 2020, "collected_data = 'yes'") == 130
    assert collected.denominator == 169 and collected.denominator_kind == "all"
    assert collected.text == "130 offices (77 %)"
    assert values["migration_data_capacity"].text == "102 offices (60 %)"
    assert values["psea_networks"].value == _sql_count(demo, 2020, "psea_network = 'yes'") == 69
    assert values["sdg_efforts"].text == "of 165 offices, 129 (78 %)"
    assert values["policy_coherence"].text == "91 offices (55 %)"
    assert values["psea_staff_trained"].text == "5,765 staff by 102 offices"
    assert values["psea_referral_in_place"].value == 33 and values["psea_referral_underway"].value == 36
    assert values["gender_violence"].value == _sql_count(demo, 2020, "list_contains(string_split(gender_areas, ' '), "
                                                                    "'violence')") == 83
    assert set(collected.record_ids) == {f"{o}|2020" for (o,) in demo.query(
        "SELECT r.office FROM institutional_questionnaire r JOIN questionnaire_states s ON s.office_code = r.office "
        "AND s.year = r.year WHERE r.year = 2020 AND collected_data = 'yes' AND s.state <> 'draft'")}


def test_reintegration_breakdown_sums_and_shares(demo):
    b = breakdown_sum(demo, 2020, ["reint_before", "reint_after"], "reint_total")
    before = demo.scalar("SELECT sum(reint_before) FROM institutional_questionnaire WHERE year = 2020")
    assert b["total"] == b["reported_total"] == 106_230 and b["consistent"]
    assert b["parts"]["reint_before"]["value"] == before == 10_623
    assert (b["parts"]["reint_before"]["percent"], b["parts"]["reint_after"]["percent"]) == (10, 90)
    text = indicator_values(demo, 2020, ["reintegration_services", "reintegration_providers"])
    assert text["reintegration_services"].text == \
        "106,230 reintegration services (before departure 10 %, after arrival 90 %)"
    assert "by IOM 94 %, through referrals 6 %" in text["reintegration_providers"].text


def test_denominators_all_versus_answered(demo):
    everyone = office_share(demo, 2020, "sdg_efforts", "yes", denominator="all")[0]
    answered = office_share(demo, 2020, "sdg_efforts", "yes", denominator="answered")[0]
    assert everyone.count == answered.count == 129
    assert everyone.denominator == 169
    assert answered.denominator == _sql_count(demo, 2020, "sdg_efforts IS NOT NULL") == 165
    assert (everyone.percent, answered.percent) == (76, 78)
    # a question asked only where another was answered yes: its answered denominator is those offices
    tor = office_share(demo, 2020, "psea_tor", "yes", denominator="answered")[0]
    assert tor.denominator == 69 and tor.count == _sql_count(demo, 2020, "psea_tor = 'yes'")


def test_region_breakdown_matches_grouped_sql_and_adds_up(demo):
    regions = office_share(demo, 2020, "data_capacity", "yes", by="region")
    assert len(regions) == 9
    expected = dict(demo.query(
        "SELECT CASE WHEN p.level = 11 THEN p.code ELSE p.parent_code END AS region, count(*) "
        "FROM institutional_questionnaire r JOIN questionnaire_states s ON s.office_code = r.office AND s.year = r.year "
        "JOIN places p ON p.code = r.office WHERE r.year = 2020 AND s.state IN ('submitted', 'approved', 'locked') "
        "AND data_capacity = 'yes' GROUP BY 1"))
    assert {s.group: s.count for s in regions} == expected
    assert sum(s.count for s in regions) == 102
    count = {s.group: s.count for s in regions}
    assert count["RO-DKR"] + count["RO-NBO"] + count["RO-PTA"] == 32  # "32 were in Africa"
    assert count["RO-BRU"] + count["RO-VIE"] == 20 and count["RO-BKK"] == 18
    dakar = next(s for s in regions if s.group == "RO-DKR")
    assert dakar.denominator == _sql_count(demo, 2020, "office IN (SELECT code FROM places WHERE code = 'RO-DKR' "
                                                       "OR parent_code = 'RO-DKR')")
    assert "region=RO-DKR" in dakar.trace


def test_participation_by_region_and_who_has_not_submitted(demo):
    p = participation(demo, 2020)
    with default_offices_csv().open(encoding="utf-8") as fh:
        expected = [r for r in csv.DictReader(fh) if r["kind"] in ("regional", "country")]
    assert p.total.offices == len(expected) == 173
    assert p.total.submitted == 169 and p.text == "98 %"
    assert {m["code"] for m in p.missing} == {"CO-VUT", "CO-ERI", "CO-TKM", "CO-SUR"}
    assert {m["code"]: m["state"] for m in p.missing}["CO-VUT"] == "draft"
    by_region = {r.region: r for r in p.regions}
    assert len(by_region) == 9
    assert by_region["RO-NBO"].offices == sum(1 for r in expected if "RO-NBO" in (r["code"], r["parent"]))
    assert by_region["RO-NBO"].submitted == by_region["RO-NBO"].offices - 1  # Eritrea did not start
    assert sum(r.submitted for r in p.regions) == 169
    assert p.total.locked == demo.scalar("SELECT count(*) FROM questionnaire_states WHERE year = 2020 AND "
                                         "state = 'locked'")


def test_prior_years_and_year_over_year_change(demo):
    values = indicator_values(demo, 2020)
    psea = values["psea_networks"]
    assert psea.prior == {2019: 60, 2018: 48} and psea.change == 9
    assert values["migration_data_collected"].prior == {2019: _sql_count(demo, 2019, "collected_data = 'yes'"),
                                                        2018: _sql_count(demo, 2018, "collected_data = 'yes'")}
    assert values["private_sector"].prior == {}  # not asked before 2020
    assert indicator_values(demo, 2019)["psea_networks"].prior == {2018: 48}


# ---- workflow -------------------------------------------------------------------------------------------------

COMPLETE = {
    "collected_data": "yes", "data_sources": ["dtm"], "data_capacity": "no", "published_research": "yes",
    "feedback_mechanism": "yes", "complaints_sop": "no", "aap_in_strategy": "no", "aap_focal_point": "no",
    "psea_network": "no", "psea_referral": "none", "psea_staff_trained": "12", "psea_external_trained": "0",
    "reintegration": "yes", "reint_before": "5", "reint_after": "20", "reint_total": "25", "reint_by_iom": "25",
    "reint_by_referral": "0", "sdg_support": "yes", "cca_migration": "yes", "cooperation_framework": "no",
    "joint_programming": "yes", "migration_network": "no", "rcp_engagement": "no", "private_sector": "no",
    "civil_society": "yes", "igo_cooperation": "no", "climate_programming": "yes", "border_management": "yes",
    "gender_focus": "no", "risk_projects": "yes", "risk_assessment": "no", "evaluation_use": "yes",
}


def test_full_cycle_with_history_audit_and_record_versions(qstore):
    with pytest.raises(wf.WorkflowError) as exc:
        wf.submit(qstore, "CO-VUT", 2020, VUT_EDITOR)
    assert exc.value.code == "questionnaire.incomplete" and "data_capacity" in str(exc.value)
    result = save_answers(qstore, "CO-VUT", 2020, COMPLETE, VUT_EDITOR)
    assert result.ok, result.report.summary()
    assert wf.current_answers(qstore, "CO-VUT", 2020)["_version"] == 2
    assert wf.submit(qstore, "CO-VUT", 2020, VUT_EDITOR) == "submitted"
    assert wf.approve(qstore, "CO-VUT", 2020, BKK) == "approved"
    assert wf.lock(qstore, "CO-VUT", 2020, HQ) == "locked"
    assert [(e.action, e.from_state, e.to_state, e.user, e.record_version)
            for e in wf.history(qstore, "CO-VUT", 2020)] == [
        ("submit", "draft", "submitted", "ed-vut", 2), ("approve", "submitted", "approved", "ap-bkk", 2),
        ("lock", "approved", "locked", "hq", 2)]
    actions = [e["action"] for e in audit_entries(qstore, action="questionnaire.", limit=10)]
    assert actions[:3] == ["questionnaire.lock", "questionnaire.approve", "questionnaire.submit"]
    assert participation(qstore, 2020).total.submitted == 170
    assert indicator_values(qstore, 2020, ["migration_data_collected"])["migration_data_collected"].value == 131


def test_refusals_wrong_role_wrong_region_wrong_state(qstore):
    assert save_answers(qstore, "CO-VUT", 2020, COMPLETE, VUT_EDITOR).ok
    with pytest.raises(Forbidden):
        save_answers(qstore, "CO-VUT", 2020, COMPLETE, NGA_EDITOR)  # another office's editor
    with pytest.raises(Forbidden):
        wf.submit(qstore, "CO-VUT", 2020, Principal("v", "viewer", {"CO-VUT"}))
    with pytest.raises(wf.WorkflowError):
        wf.approve(qstore, "CO-VUT", 2020, BKK)  # not submitted yet
    wf.submit(qstore, "CO-VUT", 2020, VUT_EDITOR)
    for who in (VUT_EDITOR, DKR, HQ):  # the office itself, another region, headquarters: not the approver
        with pytest.raises(Forbidden):
            wf.approve(qstore, "CO-VUT", 2020, who)
    with pytest.raises(wf.WorkflowError):
        wf.lock(qstore, "CO-VUT", 2020, HQ)  # not approved yet
    with pytest.raises(wf.WorkflowError) as exc:
        save_answers(qstore, "CO-VUT", 2020, COMPLETE | {"psea_staff_trained": "13"}, VUT_EDITOR)
    assert exc.value.code == "questionnaire.frozen" and "reopen" in str(exc.value)
    wf.approve(qstore, "CO-VUT", 2020, BKK)
    with pytest.raises(Forbidden):
        wf.lock(qstore, "CO-VUT", 2020, BKK)
    assert state(qstore, "CO-VUT", 2020) == "approved"


def test_reopen_needs_a_reason_the_right_office_and_is_logged(qstore):
    assert state(qstore, "CO-NGA", 2020) in ("locked", "approved", "submitted")
    qstore.execute("UPDATE questionnaire_states SET state = 'locked' WHERE office_code = 'CO-NGA' AND year = 2020")
    with pytest.raises(wf.WorkflowError) as exc:
        wf.reopen(qstore, "CO-NGA", 2020, ADMIN, "  ")
    assert exc.value.code == "questionnaire.reason_required"
    with pytest.raises(Forbidden):
        wf.reopen(qstore, "CO-NGA", 2020, DKR, "locked: for headquarters")  # its region may not reopen a locked one
    before = indicator_values(qstore, 2020, ["psea_networks"])["psea_networks"].value
    was_yes = qstore.scalar("SELECT psea_network = 'yes' FROM institutional_questionnaire WHERE office = 'CO-NGA' "
                            "AND year = 2020")
    assert wf.reopen(qstore, "CO-NGA", 2020, HQ, "PSEA network membership misreported") == "draft"
    last = audit_entries(qstore, action="questionnaire.reopen", limit=1)[0]
    assert last["target"] == "CO-NGA/2020" and last["user_name"] == "hq"
    assert last["detail"]["reason"] == "PSEA network membership misreported" and last["detail"]["from"] == "locked"
    assert wf.history(qstore, "CO-NGA", 2020)[-1].reason == "PSEA network membership misreported"
    # a draft does not count any more
    assert indicator_values(qstore, 2020, ["psea_networks"])["psea_networks"].value == before - int(was_yes)
    # and its office may change it again: a new version of the same record
    version = wf.current_answers(qstore, "CO-NGA", 2020)["_version"]
    assert save_answers(qstore, "CO-NGA", 2020, COMPLETE, NGA_EDITOR).ok
    assert wf.current_answers(qstore, "CO-NGA", 2020)["_version"] == version + 1
    with pytest.raises(wf.WorkflowError):
        wf.reopen(qstore, "CO-NGA", 2020, HQ, "already a draft, nothing to reopen")


def test_save_drops_answers_that_do_not_apply_and_reports_broken_constraints(qstore):
    result = save_answers(qstore, "CO-VUT", 2020, COMPLETE | {"reint_total": "26"}, VUT_EDITOR)
    assert not result.ok and ("reint_total", "constraint") in {(f.column, f.code) for f in result.report.errors}
    assert wf.current_answers(qstore, "CO-VUT", 2020)["_version"] == 1  # unchanged
    result = save_answers(qstore, "CO-VUT", 2020, COMPLETE | {"psea_network": "no", "psea_tor": "yes"}, VUT_EDITOR)
    assert result.ok
    assert wf.current_answers(qstore, "CO-VUT", 2020)["psea_tor"] is None


def test_labels_hints_and_choices_in_french_and_spanish():
    """Every question, section and choice has its French and Spanish text in the workbook (read with openpyxl),
    different from the English, and the library gives the language asked for (English for any other)."""
    ws = load_workbook(FORM, read_only=True)
    rows = list(ws["survey"].iter_rows(values_only=True))
    head = rows[0]
    col = {name: head.index(name) for name in head if name}
    for lang in ("French (fr)", "Spanish (es)"):
        for r in rows[1:]:
            english, other = r[col["label::English (en)"]], r[col[f"label::{lang}"]]
            assert bool(english) == bool(other) and (not english or other != english or english == "No"), (r[1], lang)
            hint = r[col["hint::English (en)"]]
            assert bool(hint) == bool(r[col[f"hint::{lang}"]]), (r[1], lang)
        choices = list(ws["choices"].iter_rows(values_only=True))
        ccol = choices[0].index(f"label::{lang}")
        assert all(c[ccol] for c in choices[1:])
    qn = load_questionnaire()
    q = qn.question("reint_before")
    assert q.text("fr") == "Services de réintégration fournis avant le départ"
    assert q.text("es") == "Servicios de reintegración prestados antes de la partida"
    assert q.text("en") == q.text("de") == q.label == "Reintegration services provided before departure"
    assert (q.hint_in("fr"), q.hint_in("es")) == ("Dans le pays d'accueil", "En el país de acogida")
    assert qn.question("collected_data").choices_in("es") == (("yes", "Sí"), ("no", "No"))
    assert qn.question("psea_referral").choice_label("underway", "fr") == "En cours d'élaboration"
    assert [label for _, label, _ in qn.sections("fr")][3] == "Retour et réintégration"
    assert len({q.text("fr") for q in qn.questions}) == len(qn.questions)


def test_tasks_and_bulk_actions_each_authorised_and_audited(qstore):
    """The approver's queue is their region's submitted offices (plain SQL says which); headquarters sees every
    submitted or approved one; a bulk action is one transition per office, refusals coded and the rest done."""
    submitted_bkk = {c for (c,) in qstore.query(
        "SELECT s.office_code FROM questionnaire_states s JOIN places p ON p.code = s.office_code WHERE s.year = 2020 "
        "AND s.state = 'submitted' AND p.parent_code = 'RO-BKK'")}
    assert save_answers(qstore, "CO-VUT", 2020, COMPLETE, VUT_EDITOR).ok
    wf.submit(qstore, "CO-VUT", 2020, VUT_EDITOR)
    submitted_bkk.add("CO-VUT")
    tasks = wf.tasks(qstore, BKK, 2020)
    assert {t.office for t in tasks} == submitted_bkk and len(submitted_bkk) >= 2
    assert all(t.actions == ("approve",) and t.region == "RO-BKK" for t in tasks)
    waiting = qstore.scalar("SELECT count(*) FROM questionnaire_states WHERE year = 2020 AND state IN "
                            "('submitted', 'approved')")
    hq_tasks = wf.tasks(qstore, HQ, 2020)
    assert len(hq_tasks) == waiting and len(wf.tasks(qstore, ADMIN, 2020)) == waiting
    assert {t.actions for t in hq_tasks if t.state == "approved"} == {("lock",)}
    assert wf.tasks(qstore, VUT_EDITOR, 2020) == [] and not wf.approves(qstore, VUT_EDITOR)
    assert wf.approves(qstore, BKK) and wf.approves(qstore, HQ)
    assert not wf.approves(qstore, Principal("v", "viewer", {"RO-BKK"}))
    other = qstore.scalar("SELECT s.office_code FROM questionnaire_states s JOIN places p ON p.code = s.office_code "
                          "WHERE s.year = 2020 AND s.state = 'submitted' AND p.parent_code = 'RO-DKR' LIMIT 1")
    before = len(audit_entries(qstore, action="questionnaire.approve", limit=1000))
    outcomes = wf.act_many(qstore, "approve", [*sorted(submitted_bkk), other, "CO-NOPE", "co-vut"], 2020, BKK)
    assert [(o.office, o.ok, o.state or o.code) for o in outcomes] == [
        *((c, True, "approved") for c in sorted(submitted_bkk)), (other, False, "forbidden"),
        ("CO-NOPE", False, "not_found")]  # CO-VUT once: the list is deduplicated
    approvals = audit_entries(qstore, action="questionnaire.approve", limit=1000)
    assert len(approvals) == before + len(submitted_bkk)
    assert {e["target"] for e in approvals[:len(submitted_bkk)]} == {f"{c}/2020" for c in submitted_bkk}
    assert all(wf.history(qstore, c, 2020)[-1].user == "ap-bkk" for c in submitted_bkk)
    assert wf.tasks(qstore, BKK, 2020) == []
    done = wf.act_many(qstore, "lock", sorted(submitted_bkk), 2020, HQ)
    assert all(o.ok and o.state == "locked" for o in done)
    with pytest.raises(UsageError):
        wf.act_many(qstore, "approve", [" "], 2020, BKK)


def test_submit_answers_saves_first_and_keeps_them_when_refused(qstore):
    """Submit with the page's answers: saved, then submitted; refused answers submit nothing; a refused
    submission (a mandatory question unanswered) keeps the answers saved as a draft."""
    incomplete = {k: v for k, v in COMPLETE.items() if k != "evaluation_use"} | {"comments": "typed, never saved"}
    with pytest.raises(wf.WorkflowError) as exc:
        wf.submit_answers(qstore, "CO-VUT", 2020, incomplete, VUT_EDITOR)
    assert exc.value.code == "questionnaire.incomplete"
    assert wf.current_answers(qstore, "CO-VUT", 2020)["comments"] == "typed, never saved"
    assert state(qstore, "CO-VUT", 2020) == "draft" and wf.missing_answers(qstore, "CO-VUT", 2020) == ["evaluation_use"]
    result, now = wf.submit_answers(qstore, "CO-VUT", 2020, COMPLETE | {"reint_total": "99"}, VUT_EDITOR)
    assert not result.ok and now is None and state(qstore, "CO-VUT", 2020) == "draft"
    result, now = wf.submit_answers(qstore, "CO-VUT", 2020, COMPLETE | {"comments": "last words"}, VUT_EDITOR)
    assert result.ok and now == "submitted"
    answers = wf.current_answers(qstore, "CO-VUT", 2020)
    assert answers["comments"] == "last words" and wf.history(qstore, "CO-VUT", 2020)[-1].record_version == \
        answers["_version"]


def test_imported_answers_for_locked_unknown_or_foreign_offices_are_refused(qstore, tmp_path):
    locked = qstore.scalar("SELECT office_code FROM questionnaire_states WHERE year = 2020 AND state = 'locked' "
                           "ORDER BY office_code LIMIT 1")
    path = tmp_path / "export.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["office", "year", "data/collected_data", "data/data_capacity"])
        w.writerow(["co-vut", "2020", "yes", "yes"])      # row 2: a draft (lower case is read as CO-VUT)
        w.writerow([locked, "2020", "no", "no"])           # row 3: locked
        w.writerow(["CO-ATLANTIS", "2020", "no", "no"])    # row 4: no such office
    imports = qstore.scalar("SELECT count(*) FROM imports WHERE status = 'committed'")
    result = import_answers(qstore, [path], principal=ADMIN, update=True)
    assert not result.ok
    assert {(3, "office", "institutional.questionnaire-workflow"), (4, "office", "institutional.office-unknown")} <= set(result.report.flat())
    assert qstore.scalar("SELECT count(*) FROM imports WHERE status = 'committed'") == imports
    # an editor may import only their office's rows
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write("office,year,data/collected_data\nCO-VUT,2020,no\nCO-ERI,2020,yes\n")
    result = import_answers(qstore, [path], principal=VUT_EDITOR, update=True)
    assert [(f.row, f.code) for f in result.report.errors] == [(3, "out-of-scope")]
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write("office,year,data/collected_data\nCO-VUT,2020,no\n")
    result = import_answers(qstore, [path], principal=VUT_EDITOR, update=True)
    assert result.ok and wf.current_answers(qstore, "CO-VUT", 2020)["collected_data"] == "no"
    assert wf.current_answers(qstore, "CO-VUT", 2020)["_place_code"] == "CO-VUT"


# ---- command line ---------------------------------------------------------------------------------------------

def test_cli_status_participation_figures_and_refusal(demo_template, tmp_path):
    from click.testing import CliRunner

    from passage.cli import main

    db = tmp_path / "cli.duckdb"
    shutil.copyfile(demo_template, db)
    run = CliRunner().invoke
    r = run(main, ["--db", str(db), "questionnaire", "participation", "--year", "2020", "--format", "csv"])
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(r.output.splitlines()))
    assert rows[-1]["region"] == "all" and (rows[-1]["offices"], rows[-1]["submitted"]) == ("173", "169")
    r = run(main, ["--db", str(db), "questionnaire", "figures", "--year", "2020", "--format", "csv"])
    figures = {row["indicator"]: row for row in csv.DictReader(r.output.splitlines())}
    assert figures["migration_data_collected"]["text"] == "130 offices (77 %)"
    assert (figures["psea_networks"]["previous_year"], figures["psea_networks"]["change"]) == ("60", "9")
    r = run(main, ["--db", str(db), "questionnaire", "reopen", "CO-NGA", "--year", "2020", "--reason", ""])
    assert r.exit_code == 1 and "reason" in r.output
    r = run(main, ["--db", str(db), "questionnaire", "reopen", "CO-NGA", "--year", "2020",
                   "--reason", "a figure to correct"])
    assert r.exit_code == 0 and "draft" in r.output
    r = run(main, ["--db", str(db), "questionnaire", "status", "--year", "2020", "--region", "RO-DKR",
                   "--format", "csv"])
    assert "CO-NGA,IOM Nigeria,RO-DKR,draft" in r.output
    r = run(main, ["--db", str(db), "offices", "list", "--region", "RO-NBO", "--format", "csv"])
    assert r.output.count("\n") == 1 + 11


# ---- portal ---------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def qportal(demo_template, tmp_path_factory):
    """A portal over a copy of the demo store, with an editor per role."""
    from passage import auth
    from portal import serve

    folder = tmp_path_factory.mktemp("qportal")
    db = folder / "q.duckdb"
    shutil.copyfile(demo_template, db)
    accounts = {}
    with open_store(str(db)) as store:
        for name, role, scopes in (("ed-vut", "editor", ["CO-VUT"]), ("ap-bkk", "editor", ["RO-BKK"]),
                                   ("hq", "editor", ["HQ"]), ("viewer", "viewer", ["CO-VUT"]),
                                   ("ed-tkm", "editor", ["CO-TKM"])):
            auth.add_user(store, name, "a long enough password", role, scopes)
            accounts[name] = (role, ",".join(scopes), "a long enough password")
    running = serve(str(db), accounts)
    yield running
    running.stop()


def _csrf(html: str) -> str:
    return html.split('name="csrf_token" value="')[1].split('"')[0]


HTML = {"accept": "text/html"}


def test_dashboard_shows_rate_regions_and_missing_offices(qportal):
    assert qportal.client().get("/questionnaire", headers=HTML).status_code == 303  # sign in first
    page = qportal.client("viewer").get("/questionnaire?year=2020", headers=HTML)
    assert page.status_code == 200
    assert re.search(r'data-testid="participation-rate">98\s?%<', page.text)
    assert page.text.count('<tr data-region="RO-') == 9
    missing = page.text.split('id="missing"')[1]
    for code in ("CO-VUT", "CO-ERI", "CO-TKM", "CO-SUR"):
        assert f"/questionnaire/2020/{code}" in missing
    figures = qportal.client("viewer").get("/questionnaire/2020/figures", headers=HTML).text
    assert "130 offices (77 %)" in figures and "106,230 reintegration services" in figures
    trace = qportal.client("viewer").get("/questionnaire/2020/figures/migration_data_collected", headers=HTML).text
    assert trace.split('id="trace"')[1].count("<tr>") == 130 + 1


def test_office_fills_submits_region_approves_hq_locks_over_http(qportal):
    ed = qportal.client("ed-vut")
    page = ed.get("/questionnaire/2020/CO-VUT", headers=HTML)
    assert page.status_code == 200 and 'id="questionnaire"' in page.text
    assert 'data-question="reint_before" hidden' in page.text  # skip logic: reintegration not answered yet
    data = {f"q_{k}": v for k, v in COMPLETE.items()}
    r = ed.post("/questionnaire/2020/CO-VUT", data=data, headers=HTML)
    assert r.status_code == 403  # no CSRF token
    data["csrf_token"] = _csrf(page.text)
    r = ed.post("/questionnaire/2020/CO-VUT", data=data | {"q_reint_total": "99"}, headers=HTML)
    assert r.status_code == 422
    assert 'data-code="constraint"' in r.text.split('id="q-reint_total"')[1].split("</div>")[0]
    r = ed.post("/questionnaire/2020/CO-VUT", data=data, headers=HTML)
    assert r.status_code == 303
    relevant = ed.post("/questionnaire/2020/CO-VUT/relevant", data={"q_reintegration": "no"}).json()["relevant"]
    assert relevant["reint_before"] is False and relevant["collected_data"] is True
    page = ed.get("/questionnaire/2020/CO-VUT", headers=HTML).text
    assert 'data-action="submit"' in page and 'data-action="approve"' not in page
    csrf = _csrf(page)
    assert ed.post("/questionnaire/2020/CO-VUT/submit", data={"csrf_token": csrf}).status_code == 303
    assert ed.post("/questionnaire/2020/CO-VUT/approve", data={"csrf_token": csrf}, headers=HTML).status_code == 403
    ap = qportal.client("ap-bkk")
    page = ap.get("/questionnaire/2020/CO-VUT", headers=HTML).text
    assert 'data-state="submitted"' in page and 'data-action="approve"' in page and 'id="questionnaire"' not in page
    assert ap.post("/questionnaire/2020/CO-VUT/approve", data={"csrf_token": _csrf(page)}).status_code == 303
    hq = qportal.client("hq")
    csrf = _csrf(hq.get("/questionnaire/2020/CO-VUT", headers=HTML).text)
    assert hq.post("/questionnaire/2020/CO-VUT/lock", data={"csrf_token": csrf}).status_code == 303
    r = hq.post("/questionnaire/2020/CO-VUT/reopen", data={"csrf_token": csrf, "reason": ""}, headers=HTML)
    assert r.status_code == 409 and 'data-code="questionnaire.reason_required"' in r.text
    r = hq.post("/questionnaire/2020/CO-VUT/reopen", data={"csrf_token": csrf, "reason": "totals to check"})
    assert r.status_code == 303
    page = hq.get("/questionnaire/2020/CO-VUT", headers=HTML).text
    assert 'data-state="draft"' in page and "totals to check" in page.split('id="history"')[1]
    dash = qportal.client("viewer").get("/questionnaire?year=2020", headers=HTML).text
    assert "/questionnaire/2020/CO-VUT" in dash.split('id="missing"')[1]


def test_autosave_and_submit_with_unsaved_answers_over_http(qportal):
    """A questionnaire not started: autosave (JSON, CSRF in the header) saves a draft or says which answers break
    a rule; Submit carrying the page's answers saves them in the same request, and refused answers are shown as
    typed with nothing submitted."""
    ed = qportal.client("ed-tkm")
    page = ed.get("/questionnaire/2020/CO-TKM", headers=HTML).text
    assert 'data-state="not_started"' in page and 'data-version="0"' in page
    csrf = _csrf(page)
    url = "/questionnaire/2020/CO-TKM/autosave"
    assert ed.post(url, data={"q_collected_data": "yes"}).status_code == 403  # no CSRF token
    r = ed.post(url, data={"q_collected_data": "yes", "q_comments": "first thoughts"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and r.json()["saved"] and r.json()["version"] == 1
    missing = r.json()["missing"]
    assert {"name": "data_capacity", "label": load_questionnaire().question("data_capacity").label} in missing
    r = ed.post(url, data={"q_reintegration": "yes", "q_reint_before": "1", "q_reint_total": "5"},
                headers={"X-CSRF-Token": csrf})
    assert r.status_code == 422 and not r.json()["saved"]
    assert ("reint_total", "constraint") in {(e["question"], e["code"]) for e in r.json()["errors"]}
    page = ed.get("/questionnaire/2020/CO-TKM", headers=HTML).text
    assert 'data-state="draft"' in page and "first thoughts</textarea>" in page and 'data-version="1"' in page
    # the missing list: by label, each linking to its question
    listed = page.split('id="missing-answers"')[1].split("</ul>")[0]
    assert '<a href="#q-data_capacity" data-question="data_capacity">Did the office build the capacity' in listed
    # Submit with refused answers: shown as typed, not submitted, the saved draft unchanged
    data = {f"q_{k}": v for k, v in COMPLETE.items()} | {"answers": "1", "csrf_token": csrf}
    r = ed.post("/questionnaire/2020/CO-TKM/submit", data=data | {"q_reint_total": "99", "q_comments": "typed"},
                headers=HTML)
    assert r.status_code == 422 and 'data-state="draft"' in r.text and "typed</textarea>" in r.text
    assert 'name="q_reint_total" value="99"' in r.text
    # Submit with answers never saved: saved, then submitted, in one request
    r = ed.post("/questionnaire/2020/CO-TKM/submit", data=data | {"q_comments": "sent with Submit"})
    assert r.status_code == 303 and r.headers["location"].endswith("?done=submit")
    page = ed.get("/questionnaire/2020/CO-TKM", headers=HTML).text
    assert 'data-state="submitted"' in page and "sent with Submit" in page
    r = ed.post(url, data={"q_comments": "too late"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 409 and r.json()["error"]["code"] == "questionnaire.frozen"


def test_pages_in_french_and_the_menu(qportal):
    viewer = qportal.client("viewer")
    viewer.get("/language/fr", params={"next": "/"})
    page = html.unescape(viewer.get("/questionnaire/2020/CO-NGA", headers=HTML).text)
    assert "Le bureau a-t-il collecté des données sur la migration à usage externe pendant l'année ?" in page
    assert "Retour et réintégration" in page
    assert "Did the office collect migration data" not in page
    nav = page.split("</nav>")[0]
    assert 'href="/reports/annual"' in nav and 'href="/questionnaire/tasks"' not in nav  # a viewer approves nothing
    r = viewer.get("/reports/annual")
    assert r.status_code == 303 and r.headers["location"] == "/reports/annual/2020"
    assert qportal.client().get("/reports/annual", headers=HTML).status_code == 303  # sign in first
    assert "/login" in qportal.client().get("/reports/annual", headers=HTML).headers["location"]
    nav = qportal.client("ap-bkk").get("/questionnaire", headers=HTML).text.split("</nav>")[0]
    assert 'href="/questionnaire/tasks"' in nav and 'href="/reports/annual"' in nav
    assert re.findall(r'href="([^"]+)" aria-current="page"', nav) == ["/questionnaire"]
    nav = qportal.client("ap-bkk").get("/questionnaire/tasks", headers=HTML).text.split("</nav>")[0]
    assert re.findall(r'href="([^"]+)" aria-current="page"', nav) == ["/questionnaire/tasks"]  # one current link


def test_the_same_on_postgresql(pg_store, tmp_path):
    """Demo, figures, a transition and an import refused by the workflow, on the server store (its validation
    engine is a separate DuckDB: the workflow states reach the importer as a snapshot)."""
    load_demo_questionnaire(pg_store, accounts=False)
    values = indicator_values(pg_store, 2020, ["migration_data_collected", "psea_networks"])
    assert values["migration_data_collected"].text == "130 offices (77 %)"
    assert values["psea_networks"].prior == {2019: 60, 2018: 48}
    assert participation(pg_store, 2020).total.submitted == 169
    locked = pg_store.scalar("SELECT office_code FROM questionnaire_states WHERE year = 2020 AND state = 'locked' "
                             "ORDER BY office_code LIMIT 1")
    path = tmp_path / "export.csv"
    path.write_text(f"office,year,data/collected_data\n{locked},2020,no\n", encoding="utf-8")
    result = import_answers(pg_store, [path], principal=ADMIN, update=True)
    assert (2, "office", "institutional.questionnaire-workflow") in result.report.flat()
    assert wf.reopen(pg_store, locked, 2020, ADMIN, "checked on the server store") == "draft"
    assert import_answers(pg_store, [path], principal=ADMIN, update=True).ok
    assert wf.current_answers(pg_store, locked, 2020)["collected_data"] == "no"
    # the approvers' queue and a bulk approval, and the state listing the API serves
    result, now = wf.submit_answers(pg_store, "CO-VUT", 2020, COMPLETE, VUT_EDITOR)
    assert result.ok and now == "submitted"
    queue = [t.office for t in wf.tasks(pg_store, BKK, 2020)]
    assert "CO-VUT" in queue and len(queue) == pg_store.scalar(
        "SELECT count(*) FROM questionnaire_states s JOIN places p ON p.code = s.office_code WHERE s.year = 2020 "
        "AND s.state = 'submitted' AND p.parent_code = 'RO-BKK'")
    assert all(o.ok for o in wf.act_many(pg_store, "approve", queue, 2020, BKK))
    rows = {r["office"]: r["state"] for r in wf.status_rows(pg_store, 2020, "RO-BKK")}
    assert all(rows[o] == "approved" for o in queue) and "HQ" not in rows


def test_a_draft_saved_while_the_questionnaire_is_submitted_does_not_change_the_submitted_answers(qstore,
                                                                                                  monkeypatch):
    """An autosave checked while the questionnaire was a draft, then submitted by someone else before the save
    loaded: the submitted answers must stay those submitted (the save is refused), not change under the
    approver's eyes."""
    from passage.ingest.pipeline import ImportJob

    assert save_answers(qstore, "CO-VUT", 2020, COMPLETE, VUT_EDITOR).ok
    submitted_version = wf.current_answers(qstore, "CO-VUT", 2020)["_version"]
    loading = ImportJob.load

    def submitted_meanwhile(job):
        wf.submit(qstore, "CO-VUT", 2020, VUT_EDITOR)  # between the save's checks and its load
        return loading(job)

    monkeypatch.setattr(ImportJob, "load", submitted_meanwhile)
    result = save_answers(qstore, "CO-VUT", 2020, COMPLETE | {"comments": "typed after the submission"}, VUT_EDITOR)
    assert not result.ok
    assert {f.code for f in result.report.errors} == {"institutional.questionnaire-workflow"}
    assert state(qstore, "CO-VUT", 2020) == "submitted"
    answers = wf.current_answers(qstore, "CO-VUT", 2020)
    assert answers["_version"] == submitted_version and answers["comments"] != "typed after the submission"
    assert wf.history(qstore, "CO-VUT", 2020)[-1].record_version == answers["_version"]


def test_a_held_row_released_after_its_questionnaire_was_submitted_is_refused(qstore, tmp_path, monkeypatch):
    """A quarantined row of answers, checked as a draft's, then its questionnaire submitted before the release
    loads it: the release is refused under the load lock, as an import of the row would be."""
    from passage.ingest import import_files
    from passage.ingest import quarantine as qn

    path = tmp_path / "answers.csv"
    path.write_text("office,year,psea_staff_trained\nCO-VUT,2022,3\nCO-NGA,2022,three\n", encoding="utf-8")
    result = import_files(qstore, "questionnaire", [path], on_error="quarantine")
    assert (result.status, result.loaded, result.quarantined) == ("committed", 1, 1), result.report.summary()
    held = qn.list_held(qstore)[0]
    assert qn.fix(qstore, held.quarantine_id, {"psea_staff_trained": "3"})[1].ok
    assert wf.current_answers(qstore, "CO-NGA", 2022) is None
    checked = qn._check

    def submitted_meanwhile(*args, **kwargs):
        job = checked(*args, **kwargs)
        wf.record_states(qstore, 2022, {"CO-NGA": "submitted"}, user="hq", reason="submitted meanwhile")
        return job

    monkeypatch.setattr(qn, "_check", submitted_meanwhile)
    with pytest.raises(EditRejected) as refused:
        qn.release(qstore, held.quarantine_id)
    assert [f.code for f in refused.value.report.errors] == ["institutional.questionnaire-workflow"]
    assert wf.current_answers(qstore, "CO-NGA", 2022) is None
    assert qn.get_held(qstore, held.quarantine_id).status == "held"
