"""Demo answers: the shipped office list, the 2020 questionnaire of every office, and two questions of 2019
and 2018, generated so that the figures come out as the 2020 annual report prints them.

Generated, not real: which office answered what is drawn at random (a fixed seed); only the totals are
the report's (130 of 169 offices collected migration data for external use, 69 / 60 / 48 offices in a
PSEA network in 2020 / 2019 / 2018, 106,230 reintegration services of which 10 % before departure, a
participation rate of 98 %, ...). The answers go through the import pipeline like any export, so every
generated row has passed the form's checks. `TARGETS` lists every calibrated figure.
"""

from __future__ import annotations

import csv
import random
import secrets
import tempfile
from pathlib import Path
from typing import Any

from passage.findings import expect_accepted
from passage.packs.institutional.form import load_questionnaire
from passage.packs.institutional.offices import default_offices_csv, import_offices, list_offices
from passage.packs.institutional.workflow import import_answers, record_states, states
from passage.store import Store

YEAR = 2020
SEED = "passage-questionnaire-demo"
# Offices expected to answer that did not submit in 2020: one draft, three not started.
DRAFT = "CO-VUT"
NOT_STARTED = ("CO-ERI", "CO-TKM", "CO-SUR")
AFRICA = ("RO-DKR", "RO-NBO", "RO-PTA")
EUROPE = ("RO-BRU", "RO-VIE")

# Offices answering "yes" (or the choice named) among the 169 that reported in 2020.
TARGETS = {
    "collected_data": 130, "data_capacity": 102, "published_research": 130, "feedback_mechanism": 69,
    "complaints_sop": 56, "aap_in_strategy": 47, "aap_focal_point": 35, "psea_network": 69, "psea_cochair": 8,
    "psea_tor": 55, "psea_action_plan": 48, "psea_referral:in_place": 33, "psea_referral:underway": 36,
    "psea_referral_victims": 31, "reintegration": 124, "sdg_efforts": 129, "policy_coherence": 91,
    "sdg_support": 129, "cca_migration": 115, "cooperation_framework": 35, "joint_programming": 111,
    "migration_network": 68, "rcp_engagement": 59, "private_sector": 84, "civil_society": 159,
    "igo_cooperation": 78, "climate_programming": 87, "border_management": 108, "gender_focus": 159,
    "gender_areas:violence": 83, "gender_areas:decent_work": 74, "gender_areas:participation": 70,
    "risk_projects": 143, "risk_assessment": 39, "evaluation_use": 105,
}
SDG_ANSWERED = 165  # offices answering the two optional sustainable-development questions ("Of 165 offices")
# data_capacity "yes" by region group (the report: 32 in Africa, 20 in Europe and Central Asia, 18 in Asia
# and the Pacific; the other 32 in the Americas and the Middle East and North Africa)
CAPACITY_BY_REGION = {AFRICA: 32, EUROPE: 20, ("RO-BKK",): 18, ("RO-BUE", "RO-CAI", "RO-SJO"): 32}
SUMS = {"psea_staff_trained": (102, 5_765), "psea_external_trained": (34, 5_052)}  # (offices > 0, total)
REINTEGRATION = {"reint_total": 106_230, "reint_before": 10_623, "reint_by_referral": 6_374}
STATES_2020 = {"submitted": 7, "approved": 12}  # the rest of the 169 locked
EARLIER = {2019: {"psea_network": 60, "collected_data": 124, "offices": 167},
           2018: {"psea_network": 48, "collected_data": 119, "offices": 165}}
# The draft office's editor, its regional office's approver, headquarters (which locks).
ACCOUNTS = (("editor-co-vut", "editor", ("CO-VUT",)), ("approver-bkk", "editor", ("RO-BKK",)),
            ("hq-reporting", "editor", ("HQ",)))
HIGHLIGHTS = [
    "Returning migrants received counselling and economic reintegration support despite the pandemic.",
    "Mobility tracking informed the humanitarian response plan.",
    "The office supported the government's national migration policy.",
    "Points of entry were equipped and border officials trained on COVID-19 procedures.",
    "Community feedback led to changes in shelter programming.",
]


def _split(rng: random.Random, total: int, n: int) -> list[int]:
    """`total` shared among `n` positive whole numbers, unevenly."""
    weights = [rng.paretovariate(1.6) for _ in range(n)]
    scale = (total - n) / sum(weights)
    parts = [1 + int(w * scale) for w in weights]
    for i in rng.sample(range(n), total - sum(parts)):
        parts[i] += 1
    return parts


def _within(rng: random.Random, caps: list[int], total: int) -> list[int]:
    """`total` shared among slots of these capacities, about in proportion to them."""
    grand = sum(caps)
    parts = [c * total // grand for c in caps]
    room = [i for i, c in enumerate(caps) if parts[i] < c]
    while sum(parts) < total:
        i = rng.choice(room)
        parts[i] += 1
        if parts[i] == caps[i]:
            room.remove(i)
    return parts


def generate(offices: list[Any], year: int = YEAR) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The rows (question -> answer) of every office that answered, and the states to record."""
    rng = random.Random(f"{SEED}-{year}")
    qn = load_questionnaire()
    respondents = [o for o in offices if o.kind in qn.spec.get("respondents", ["regional", "country"])]
    reported = [o for o in respondents if o.code not in (DRAFT, *NOT_STARTED)]
    rows = {o.code: {"office": o.code, "year": year} for o in reported}
    codes = [o.code for o in reported]
    countries = [o.code for o in reported if o.kind == "country"]

    def yes(question: str, among: list[str], n: int | None = None, value: str = "yes", other: str = "no") -> list[str]:
        chosen = set(rng.sample(among, TARGETS[question] if n is None else n))
        for c in among:
            rows[c][question] = value if c in chosen else other
        return sorted(chosen)

    collected = yes("collected_data", codes)
    sources = ["dtm", "avrr", "mimosa", "surveys", "administrative", "other"]
    for c in collected:
        picked = [s for s, p in zip(sources, (0.6, 0.45, 0.35, 0.4, 0.2, 0.1)) if rng.random() < p] or ["dtm"]
        rows[c]["data_sources"] = " ".join(picked)
    capacity = set()
    for group, n in CAPACITY_BY_REGION.items():
        capacity |= set(rng.sample([o.code for o in reported if o.region in group], n))
    for c in codes:
        rows[c]["data_capacity"] = "yes" if c in capacity else "no"
    yes("published_research", countries)
    for c in codes:
        rows[c]["published_research"] = rows[c].get("published_research", "no")
    for q in ("feedback_mechanism", "complaints_sop", "aap_in_strategy", "aap_focal_point"):
        yes(q, codes)
    network = yes("psea_network", codes)
    for q in ("psea_cochair", "psea_tor", "psea_action_plan"):
        yes(q, network)
    referral = rng.sample(codes, TARGETS["psea_referral:in_place"] + TARGETS["psea_referral:underway"])
    in_place = referral[:TARGETS["psea_referral:in_place"]]
    for c in codes:
        rows[c]["psea_referral"] = ("in_place" if c in in_place else "underway") if c in referral else "none"
    yes("psea_referral_victims", in_place)
    for question, (n, total) in SUMS.items():
        trained = rng.sample(codes, n)
        for c, v in zip(trained, _split(rng, total, n)):
            rows[c][question] = v
        for c in codes:
            rows[c].setdefault(question, 0)
    reint = yes("reintegration", codes)
    totals = _split(rng, REINTEGRATION["reint_total"], len(reint))
    before = _within(rng, totals, REINTEGRATION["reint_before"])
    referred = _within(rng, totals, REINTEGRATION["reint_by_referral"])
    for c, t, b, r in zip(reint, totals, before, referred):
        rows[c].update(reint_total=t, reint_before=b, reint_after=t - b, reint_by_referral=r, reint_by_iom=t - r)
    answered = rng.sample(codes, SDG_ANSWERED)
    yes("sdg_efforts", answered)
    yes("policy_coherence", answered)
    for q in ("sdg_support", "cca_migration", "cooperation_framework", "joint_programming", "migration_network",
              "rcp_engagement", "private_sector", "civil_society", "igo_cooperation", "climate_programming",
              "risk_assessment", "evaluation_use"):
        yes(q, codes)
    yes("border_management", countries)
    for c in codes:
        rows[c].setdefault("border_management", "no")
    risky = set(rng.sample([c for c in codes if rows[c]["risk_assessment"] == "no"], TARGETS["risk_projects"]
                           - TARGETS["risk_assessment"]))
    for c in codes:  # every office with a full risk assessment also manages project risks
        rows[c]["risk_projects"] = "yes" if c in risky or rows[c]["risk_assessment"] == "yes" else "no"
    focus = yes("gender_focus", codes)
    areas: dict[str, list[str]] = {c: [] for c in focus}
    for area in ("violence", "decent_work", "participation"):
        for c in rng.sample(focus, TARGETS[f"gender_areas:{area}"]):
            areas[c].append(area)
    for c in focus:
        rows[c]["gender_areas"] = " ".join(areas[c]) or "other"
    for c in codes:
        rows[c]["gcm_support"] = " ".join(str(i) for i in sorted(rng.sample(range(1, 24), rng.randint(0, 6)))) or None
        if rng.random() < 0.3:
            rows[c]["highlights"] = rng.choice(HIGHLIGHTS)
    # One office has started but not submitted: a few answers.
    rows[DRAFT] = {"office": DRAFT, "year": year, "collected_data": "yes", "data_sources": "dtm",
                   "psea_network": "no"}
    order = rng.sample(codes, len(codes))
    wanted = {}
    for c in order:
        for s, n in STATES_2020.items():
            if sum(1 for v in wanted.values() if v == s) < n:
                wanted[c] = s
                break
        else:
            wanted[c] = "locked"
    return [rows[c] for c in sorted(rows)], wanted


def generate_earlier(offices: list[Any], year: int) -> list[dict[str, Any]]:
    """A few questions of an earlier year's questionnaire."""
    rng = random.Random(f"{SEED}-{year}")
    spec = EARLIER[year]
    kinds = load_questionnaire().spec.get("respondents", ["regional", "country"])
    codes = sorted(rng.sample([o.code for o in offices if o.kind in kinds], spec["offices"]))
    rows = {c: {"office": c, "year": year} for c in codes}
    for q in ("psea_network", "collected_data"):
        chosen = set(rng.sample(codes, spec[q]))
        for c in codes:
            rows[c][q] = "yes" if c in chosen else "no"
    return [rows[c] for c in codes]


def _write(path: Path, rows: list[dict[str, Any]]) -> Path:
    names = ["office", "year", *[q.name for q in load_questionnaire().questions]]
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, names, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    return path


def _import(store: Store, path: Path, user: str) -> None:
    expect_accepted(import_answers(store, [path], user=user, update=True), f"the demo's {path.name}")


def load_demo_questionnaire(store: Store, *, user: str = "demo", work_dir: Path | None = None,
                            accounts: bool = True) -> dict[str, Any]:
    """Offices (if none yet), the generated answers and workflow states, and demo accounts for the office
    pages (an editor of the draft office CO-VUT, the Bangkok regional office's approver, headquarters).

    Returns {"offices", "answers", "accounts": {user: (role, places, password)}}; existing answers are kept.
    """
    if not list_offices(store):
        expect_accepted(import_offices(store, default_offices_csv(), user=user), "the pack's office list")
    offices = list_offices(store)
    done = {y for y in (YEAR, *EARLIER) if any(s != "not_started" for s in states(store, y).values())}
    answers = 0
    with tempfile.TemporaryDirectory(prefix="passage-demo-questionnaire-") as tmp:
        folder = Path(work_dir) if work_dir else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for year in sorted(EARLIER):
            if year in done:
                continue
            rows = generate_earlier(offices, year)
            _import(store, _write(folder / f"questionnaire-{year}-demo.csv", rows), user)
            record_states(store, year, {r["office"]: "locked" for r in rows}, user=user,
                          reason=f"{year} answers carried over from the earlier reporting system (demo)")
            answers += len(rows)
        if YEAR not in done:
            rows, wanted = generate(offices)
            _import(store, _write(folder / f"questionnaire-{YEAR}-demo.csv", rows), user)
            record_states(store, YEAR, wanted, user=user, reason="demo: states as at the end of reporting")
            answers += len(rows)
    made = {}
    if accounts:
        from passage import auth

        have = {u["user_name"] for u in auth.list_users(store)}
        for name, role, scopes in ACCOUNTS:
            if name not in have:
                password = secrets.token_urlsafe(12)
                auth.add_user(store, name, password, role, list(scopes),  # the operator seeds, as `user`
                              principal=auth.Principal(user, "admin") if user else None)
                made[name] = (role, ", ".join(scopes), password)
    return {"offices": len(offices), "answers": answers, "accounts": made}
