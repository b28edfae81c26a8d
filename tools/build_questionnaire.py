"""Write the institutional pack's yearly office questionnaire as an XLSForm (run after editing the lists
below; the .xlsx is committed).

Questions follow what the annual report quotes from the questionnaire. Besides the XLSForm columns,
each question carries its tags in extra columns that pyxform keeps and Passage reads back
(`passage.packs.institutional.form`): `sdg_targets` (UN SDG target codes, space-separated, from IATI's
UNSDG-Targets codelist), `gcm_objectives` (Global Compact for Migration objectives 1-23), `srf_objective`
(the Strategic Results Framework objective: 1, 2, 3 or E) and `mandatory` (must be answered, where it
applies, before the questionnaire can be submitted).
"""

from pathlib import Path

from xlsform_writer import write_xlsform

COLUMNS = ["type", "name", "label", "hint", "required", "relevant", "constraint", "constraint_message", "mandatory",
           "sdg_targets", "gcm_objectives", "srf_objective"]
YES = "${%s} = 'yes'"


def q(type_, name, label, *, sdg="", gcm="", srf="", hint="", relevant="", constraint="", message="",
      mandatory="yes", required=""):
    return {"type": type_, "name": name, "label": label, "hint": hint, "required": required, "relevant": relevant,
            "constraint": constraint, "constraint_message": message, "mandatory": mandatory, "sdg_targets": sdg,
            "gcm_objectives": gcm, "srf_objective": srf}


def group(name, label, relevant=""):
    return {"type": "begin group", "name": name, "label": label, "relevant": relevant}


END = {"type": "end group"}
COUNT = ". >= 0"
COUNT_MSG = "A count: zero or more."

SURVEY = [
    q("text", "office", "Office code", hint="As in the office list, e.g. CO-NGA", required="yes"),
    q("integer", "year", "Reporting year", required="yes", constraint=". >= 2000 and . <= 2100",
      message="A year such as 2020"),

    group("data", "Migration data and research"),
    q("select_one yes_no", "collected_data", "Did the office collect migration data for external use during the year?",
      sdg="17.18", gcm="1", srf="E"),
    q("select_multiple data_source", "data_sources", "Which kinds of data did the office collect?",
      relevant=YES % "collected_data", sdg="17.18", gcm="1", srf="E"),
    q("select_one yes_no", "data_capacity", "Did the office build the capacity of external partners in migration data?",
      sdg="17.9 17.18", gcm="1 23", srf="E"),
    q("select_one yes_no", "published_research",
      "Did the office publish research, analysis or assessment reports for external distribution?",
      sdg="17.18", gcm="1 3", srf="E"),
    END,

    group("aap", "Accountability to affected populations"),
    q("select_one yes_no", "feedback_mechanism", "Did the office have mechanisms or tools to systematically monitor "
      "and analyse feedback and complaints from beneficiaries and affected populations?", sdg="16.7", gcm="7",
      srf="1"),
    q("select_one yes_no", "complaints_sop",
      "Did the office have written standard operating procedures for handling or referring complaints?",
      sdg="16.6 16.7", gcm="7", srf="1"),
    q("select_one yes_no", "aap_in_strategy", "Is accountability to affected populations integrated into the "
      "office's country plan or strategy?", sdg="16.7", gcm="7", srf="1"),
    q("select_one yes_no", "aap_focal_point",
      "Does the office have an AAP focal point taking part in inter-agency AAP activities?", sdg="16.7",
      gcm="7 23", srf="1"),
    END,

    group("psea", "Protection from sexual exploitation and abuse (PSEA)"),
    q("select_one yes_no", "psea_network",
      "At the end of the year, was the office part of an inter-agency in-country PSEA network or task force?",
      sdg="5.2 16.2", gcm="7", srf="1"),
    q("select_one yes_no", "psea_cochair", "Does IOM co-chair the network?", relevant=YES % "psea_network",
      sdg="5.2", gcm="7 23", srf="1"),
    q("select_one yes_no", "psea_tor", "Has the network agreed terms of reference?", relevant=YES % "psea_network",
      sdg="5.2", gcm="7", srf="1"),
    q("select_one yes_no", "psea_action_plan", "Does the network have an action plan for joint PSEA activities?",
      relevant=YES % "psea_network", sdg="5.2", gcm="7", srf="1"),
    q("select_one referral", "psea_referral", "Is there an inter-agency referral system for complaints of sexual "
      "exploitation and abuse and for victim support?", sdg="5.2 16.2", gcm="7", srf="1"),
    q("select_one yes_no", "psea_referral_victims", "Does the referral system refer survivors to victim assistance "
      "services and contact points (psychosocial, medical, ...) in the country?",
      relevant="${psea_referral} = 'in_place'", sdg="5.2", gcm="7", srf="1"),
    q("integer", "psea_staff_trained", "How many IOM staff did the office train on PSEA?", constraint=COUNT,
      message=COUNT_MSG, sdg="5.2", gcm="7", srf="1"),
    q("integer", "psea_external_trained", "How many external actors (implementing partners, service providers, "
      "government partners) did the office train on PSEA?", constraint=COUNT, message=COUNT_MSG, sdg="5.2",
      gcm="7 23", srf="1"),
    END,

    group("return_reintegration", "Return and reintegration"),
    q("select_one yes_no", "reintegration", "Was the office involved in reintegration-related activities, in the "
      "host country before return or in the country of origin after arrival?", sdg="10.7", gcm="21", srf="2"),
    q("integer", "reint_before", "Reintegration services provided before departure", hint="In the host country",
      relevant=YES % "reintegration", constraint=COUNT, message=COUNT_MSG, sdg="10.7", gcm="21", srf="2"),
    q("integer", "reint_after", "Reintegration services provided after arrival", hint="In the country of origin",
      relevant=YES % "reintegration", constraint=COUNT, message=COUNT_MSG, sdg="10.7", gcm="21", srf="2"),
    q("integer", "reint_total", "Reintegration services in total", relevant=YES % "reintegration",
      hint="A migrant can receive several services (e.g. counselling and economic assistance)",
      constraint=". = coalesce(${reint_before}, 0) + coalesce(${reint_after}, 0)",
      message="The total must equal the services before departure plus those after arrival.",
      sdg="10.7", gcm="21", srf="2"),
    q("integer", "reint_by_iom", "Of all reintegration services: provided by IOM", relevant=YES % "reintegration",
      constraint=". >= 0 and . <= coalesce(${reint_total}, 0)", message="Zero or more, and not more than the total.",
      sdg="10.7", gcm="21", srf="2"),
    q("integer", "reint_by_referral", "Of all reintegration services: provided through referrals",
      relevant=YES % "reintegration",
      constraint=". >= 0 and . + coalesce(${reint_by_iom}, 0) = coalesce(${reint_total}, 0)",
      message="Services by IOM plus services through referrals must equal the total.", sdg="10.7", gcm="21",
      srf="2"),
    END,

    group("sdg", "Sustainable development and the United Nations system"),
    q("select_one yes_no", "sdg_efforts", "Did the office increase its efforts on migration and sustainable "
      "development?", mandatory="no", sdg="10.7 17.14", gcm="23", srf="3"),
    q("select_one yes_no", "policy_coherence",
      "Did the office work to ensure policy coherence in migration and sustainable development?", mandatory="no",
      sdg="17.14", gcm="23", srf="3"),
    q("select_one yes_no", "sdg_support", "Did the office support the government in implementing the 2030 Agenda "
      "and the Sustainable Development Goals?", sdg="10.7 17.9 17.14", gcm="23", srf="3"),
    q("select_one yes_no", "cca_migration", "Are migration and mobility captured in the United Nations common "
      "country analysis?", sdg="17.14", gcm="23", srf="E"),
    q("select_one yes_no", "cooperation_framework", "Did the office sign a new United Nations Sustainable "
      "Development Cooperation Framework that integrates migration?", sdg="17.14 17.16", gcm="23", srf="E"),
    q("select_one yes_no", "joint_programming",
      "Did the office develop joint programming initiatives with other United Nations agencies?", sdg="17.16",
      gcm="23", srf="E"),
    END,

    group("gcm", "Global Compact for Safe, Orderly and Regular Migration"),
    q("select_one yes_no", "migration_network", "Does a national or regional network on migration exist in the "
      "country or region?", sdg="10.7 17.16", gcm="23", srf="3"),
    q("select_multiple gcm_objective", "gcm_support", "Which Global Compact objectives did the office support the "
      "government on?", mandatory="no", sdg="10.7", gcm="1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23",
      srf="3"),
    q("select_one yes_no", "rcp_engagement", "Did the office work with regional consultative processes on "
      "migration?", sdg="10.7 17.16", gcm="23", srf="3"),
    END,

    group("partners", "Partnerships"),
    q("select_one yes_no", "private_sector", "Did the office actively engage with the private sector?",
      sdg="17.17", gcm="6 23", srf="E"),
    q("select_one yes_no", "civil_society", "Did the office work closely with civil society?", sdg="17.17",
      gcm="23", srf="E"),
    q("select_one yes_no", "igo_cooperation", "Did the office cooperate with non-United Nations intergovernmental "
      "organizations?", sdg="17.16", gcm="23", srf="E"),
    END,

    group("programmes", "Programme areas"),
    q("select_one yes_no", "climate_programming", "Was the office engaged in migration, environment and climate "
      "change programming?", sdg="13.1 13.3", gcm="2", srf="2"),
    q("select_one yes_no", "border_management", "Did the office work on border management?", sdg="10.7 16.9",
      gcm="4 11", srf="3"),
    q("select_one yes_no", "gender_focus", "Was at least one aspect of gender equality an overall focus of the "
      "office's engagement?", sdg="5.1 5.5", gcm="7", srf="E"),
    q("select_multiple gender_area", "gender_areas", "Which aspects of gender equality?",
      relevant=YES % "gender_focus", sdg="5.2 5.5 8.5", gcm="6 7", srf="E"),
    END,

    group("management", "Risk management and evaluation"),
    q("select_one yes_no", "risk_projects", "Did the office actively manage project risks?", sdg="16.6", gcm="23",
      srf="E"),
    q("select_one yes_no", "risk_assessment", "Did the office complete a full country-level risk assessment?",
      sdg="16.6", gcm="23", srf="E"),
    q("select_one yes_no", "evaluation_use",
      "Did the office use information derived from evaluations for its interventions?", sdg="16.6 17.19",
      gcm="23", srf="E"),
    END,

    group("narrative", "The year in brief"),
    q("text", "highlights", "Main results of the year", hint="A short paragraph for the annual report",
      mandatory="no", sdg="17.19", gcm="23", srf="E"),
    q("text", "comments", "Comments on this questionnaire", mandatory="no", sdg="17.19", gcm="23", srf="E"),
    END,
]

# The 23 objectives of the Global Compact for Safe, Orderly and Regular Migration.
GCM = [
    "Collect and utilize accurate and disaggregated data",
    "Minimize the adverse drivers of migration",
    "Provide accurate and timely information",
    "Provide legal identity and adequate documentation",
    "Enhance the availability and flexibility of pathways for regular migration",
    "Facilitate fair and ethical recruitment and decent work",
    "Address and reduce vulnerabilities in migration",
    "Save lives and coordinate efforts on missing migrants",
    "Strengthen the response to smuggling of migrants",
    "Prevent, combat and eradicate trafficking in persons",
    "Manage borders in an integrated, secure and coordinated manner",
    "Strengthen certainty and predictability in migration procedures",
    "Use immigration detention only as a measure of last resort",
    "Enhance consular protection, assistance and cooperation",
    "Provide access to basic services for migrants",
    "Empower migrants and societies to realize full inclusion and social cohesion",
    "Eliminate all forms of discrimination",
    "Invest in skills development and mutual recognition of skills",
    "Create conditions for migrants and diasporas to contribute to sustainable development",
    "Promote faster, safer and cheaper remittances",
    "Cooperate in facilitating safe and dignified return and readmission, and sustainable reintegration",
    "Establish mechanisms for the portability of social security entitlements",
    "Strengthen international cooperation and global partnerships",
]

CHOICES = [
    ("yes_no", "yes", "Yes"), ("yes_no", "no", "No"),
    ("data_source", "dtm", "Displacement Tracking Matrix (DTM)"),
    ("data_source", "avrr", "Assisted voluntary return and reintegration"),
    ("data_source", "mimosa", "Case data in MiMOSA"),
    ("data_source", "surveys", "Surveys and assessments"),
    ("data_source", "administrative", "Administrative data of government partners"),
    ("data_source", "other", "Other"),
    ("referral", "in_place", "In place"), ("referral", "underway", "Being developed"), ("referral", "none", "No"),
    ("gender_area", "violence", "Eliminating violence against women and girls"),
    ("gender_area", "decent_work", "Decent work and equal pay for work of equal value"),
    ("gender_area", "participation", "Women's full and effective participation"),
    ("gender_area", "other", "Other"),
] + [("gcm_objective", str(i), f"{i}. {text}") for i, text in enumerate(GCM, start=1)]

SETTINGS = ("Institutional questionnaire: the yearly office report", "institutional_questionnaire", "2020.1")
OUT = Path(__file__).resolve().parents[1] / "src/passage/packs/institutional/forms/institutional_questionnaire.xlsx"


def main() -> None:
    write_xlsform(OUT, COLUMNS, ([row.get(c, "") for c in COLUMNS] for row in SURVEY), SETTINGS, choices=CHOICES,
                  bold_header=True)
    print(f"{OUT} ({sum(1 for r in SURVEY if r['type'] not in ('begin group', 'end group'))} questions)")


if __name__ == "__main__":
    main()
