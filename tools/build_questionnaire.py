"""Write the institutional pack's yearly office questionnaire as an XLSForm (run after editing the lists
below; the .xlsx is committed).

Questions follow what the annual report quotes from the questionnaire. Besides the XLSForm columns,
each question carries its tags in extra columns that pyxform keeps and Passage reads back
(`passage.packs.institutional.form`): `sdg_targets` (UN SDG target codes, space-separated, from IATI's
UNSDG-Targets codelist), `gcm_objectives` (Global Compact for Migration objectives 1-23), `srf_objective`
(the Strategic Results Framework objective: 1, 2, 3 or E) and `mandatory` (must be answered, where it
applies, before the questionnaire can be submitted).

Labels and hints are in English, French and Spanish (`label::French (fr)`, `hint::Spanish (es)`, ... as
XLSForm names translations; KoboToolbox and ODK Collect offer the languages, and the portal shows the
interface language's). Every label, hint and choice label needs its French and Spanish text in `FR` / `ES`
below: the script stops and names the ones missing.
"""

from pathlib import Path

from xlsform_writer import write_xlsform

LANGUAGES = ("English (en)", "French (fr)", "Spanish (es)")
COLUMNS = ["type", "name", *(f"label::{lang}" for lang in LANGUAGES), *(f"hint::{lang}" for lang in LANGUAGES),
           "required", "relevant", "constraint", "constraint_message", "mandatory",
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

# French and Spanish: question and section labels by name, hints by "name.hint", choices by "list.choice".
FR = {
    "office": "Code du bureau", "office.hint": "Comme dans la liste des bureaux, par ex. CO-NGA",
    "year": "Année de référence",
    "data": "Données et recherche sur la migration",
    "collected_data": "Le bureau a-t-il collecté des données sur la migration à usage externe pendant l'année ?",
    "data_sources": "Quels types de données le bureau a-t-il collectés ?",
    "data_capacity": "Le bureau a-t-il renforcé les capacités de partenaires externes en matière de données sur la "
                     "migration ?",
    "published_research": "Le bureau a-t-il publié des travaux de recherche, des analyses ou des rapports "
                          "d'évaluation destinés à une diffusion externe ?",
    "aap": "Redevabilité envers les populations affectées",
    "feedback_mechanism": "Le bureau disposait-il de mécanismes ou d'outils pour suivre et analyser "
                          "systématiquement les retours et les plaintes des bénéficiaires et des populations "
                          "affectées ?",
    "complaints_sop": "Le bureau disposait-il de procédures opérationnelles normalisées écrites pour traiter ou "
                      "orienter les plaintes ?",
    "aap_in_strategy": "La redevabilité envers les populations affectées est-elle intégrée au plan ou à la "
                       "stratégie de pays du bureau ?",
    "aap_focal_point": "Le bureau a-t-il un point focal pour la redevabilité qui participe aux activités "
                       "interinstitutions en la matière ?",
    "psea": "Protection contre l'exploitation et les atteintes sexuelles (PEAS)",
    "psea_network": "À la fin de l'année, le bureau faisait-il partie d'un réseau ou d'une équipe spéciale "
                    "interinstitutions de PEAS dans le pays ?",
    "psea_cochair": "L'OIM copréside-t-elle le réseau ?",
    "psea_tor": "Le réseau a-t-il adopté un mandat ?",
    "psea_action_plan": "Le réseau a-t-il un plan d'action pour des activités conjointes de PEAS ?",
    "psea_referral": "Existe-t-il un système interinstitutions d'orientation des plaintes pour exploitation et "
                     "atteintes sexuelles et d'assistance aux victimes ?",
    "psea_referral_victims": "Le système d'orientation adresse-t-il les survivants aux services d'assistance aux "
                             "victimes et aux points de contact (psychosociaux, médicaux, ...) du pays ?",
    "psea_staff_trained": "Combien de membres du personnel de l'OIM le bureau a-t-il formés à la PEAS ?",
    "psea_external_trained": "Combien d'acteurs externes (partenaires d'exécution, prestataires de services, "
                             "partenaires gouvernementaux) le bureau a-t-il formés à la PEAS ?",
    "return_reintegration": "Retour et réintégration",
    "reintegration": "Le bureau a-t-il participé à des activités de réintégration, dans le pays d'accueil avant le "
                     "retour ou dans le pays d'origine après l'arrivée ?",
    "reint_before": "Services de réintégration fournis avant le départ", "reint_before.hint": "Dans le pays d'accueil",
    "reint_after": "Services de réintégration fournis après l'arrivée",
    "reint_after.hint": "Dans le pays d'origine",
    "reint_total": "Total des services de réintégration",
    "reint_total.hint": "Un migrant peut recevoir plusieurs services (par ex. conseil et aide économique)",
    "reint_by_iom": "Sur l'ensemble des services de réintégration : fournis par l'OIM",
    "reint_by_referral": "Sur l'ensemble des services de réintégration : fournis par orientation",
    "sdg": "Développement durable et système des Nations Unies",
    "sdg_efforts": "Le bureau a-t-il intensifié ses efforts en matière de migration et de développement durable ?",
    "policy_coherence": "Le bureau a-t-il œuvré à la cohérence des politiques en matière de migration et de "
                        "développement durable ?",
    "sdg_support": "Le bureau a-t-il aidé le gouvernement à mettre en œuvre le Programme 2030 et les objectifs "
                   "de développement durable ?",
    "cca_migration": "La migration et la mobilité sont-elles prises en compte dans le bilan commun de pays des "
                     "Nations Unies ?",
    "cooperation_framework": "Le bureau a-t-il signé un nouveau plan-cadre de coopération des Nations Unies pour le "
                             "développement durable qui intègre la migration ?",
    "joint_programming": "Le bureau a-t-il élaboré des initiatives de programmation conjointe avec d'autres "
                         "organismes des Nations Unies ?",
    "gcm": "Pacte mondial pour des migrations sûres, ordonnées et régulières",
    "migration_network": "Existe-t-il un réseau national ou régional sur les migrations dans le pays ou la région ?",
    "gcm_support": "Pour quels objectifs du Pacte mondial le bureau a-t-il soutenu le gouvernement ?",
    "rcp_engagement": "Le bureau a-t-il travaillé avec des processus consultatifs régionaux sur la migration ?",
    "partners": "Partenariats",
    "private_sector": "Le bureau a-t-il collaboré activement avec le secteur privé ?",
    "civil_society": "Le bureau a-t-il travaillé en étroite collaboration avec la société civile ?",
    "igo_cooperation": "Le bureau a-t-il coopéré avec des organisations intergouvernementales extérieures au "
                       "système des Nations Unies ?",
    "programmes": "Domaines de programme",
    "climate_programming": "Le bureau a-t-il mené des programmes sur la migration, l'environnement et les "
                           "changements climatiques ?",
    "border_management": "Le bureau a-t-il travaillé sur la gestion des frontières ?",
    "gender_focus": "Au moins un aspect de l'égalité des genres a-t-il été un axe général de l'action du bureau ?",
    "gender_areas": "Quels aspects de l'égalité des genres ?",
    "management": "Gestion des risques et évaluation",
    "risk_projects": "Le bureau a-t-il géré activement les risques de ses projets ?",
    "risk_assessment": "Le bureau a-t-il réalisé une évaluation complète des risques au niveau du pays ?",
    "evaluation_use": "Le bureau a-t-il utilisé les informations tirées des évaluations pour ses interventions ?",
    "narrative": "L'année en bref",
    "highlights": "Principaux résultats de l'année", "highlights.hint": "Un court paragraphe pour le rapport annuel",
    "comments": "Commentaires sur ce questionnaire",
    "yes_no.yes": "Oui", "yes_no.no": "Non",
    "data_source.dtm": "Matrice de suivi des déplacements (DTM)",
    "data_source.avrr": "Aide au retour volontaire et à la réintégration",
    "data_source.mimosa": "Données de cas dans MiMOSA", "data_source.surveys": "Enquêtes et évaluations",
    "data_source.administrative": "Données administratives des partenaires gouvernementaux",
    "data_source.other": "Autre",
    "referral.in_place": "En place", "referral.underway": "En cours d'élaboration", "referral.none": "Non",
    "gender_area.violence": "Élimination de la violence à l'égard des femmes et des filles",
    "gender_area.decent_work": "Travail décent et salaire égal pour un travail de valeur égale",
    "gender_area.participation": "Participation pleine et effective des femmes", "gender_area.other": "Autre",
}
ES = {
    "office": "Código de la oficina", "office.hint": "Como en la lista de oficinas, p. ej. CO-NGA",
    "year": "Año del informe",
    "data": "Datos e investigación sobre migración",
    "collected_data": "¿Recopiló la oficina datos sobre migración para uso externo durante el año?",
    "data_sources": "¿Qué tipos de datos recopiló la oficina?",
    "data_capacity": "¿Fortaleció la oficina la capacidad de asociados externos en materia de datos sobre migración?",
    "published_research": "¿Publicó la oficina investigaciones, análisis o informes de evaluación para su difusión "
                          "externa?",
    "aap": "Rendición de cuentas a las poblaciones afectadas",
    "feedback_mechanism": "¿Contaba la oficina con mecanismos o herramientas para seguir y analizar sistemáticamente "
                          "las opiniones y quejas de los beneficiarios y las poblaciones afectadas?",
    "complaints_sop": "¿Contaba la oficina con procedimientos operativos estándar escritos para tramitar o remitir "
                      "las quejas?",
    "aap_in_strategy": "¿Está integrada la rendición de cuentas a las poblaciones afectadas en el plan o la "
                       "estrategia de país de la oficina?",
    "aap_focal_point": "¿Tiene la oficina un punto focal de rendición de cuentas que participe en las actividades "
                       "interinstitucionales en la materia?",
    "psea": "Protección contra la explotación y el abuso sexuales (PEAS)",
    "psea_network": "Al final del año, ¿formaba parte la oficina de una red o un grupo de trabajo "
                    "interinstitucional de PEAS en el país?",
    "psea_cochair": "¿Copreside la OIM la red?",
    "psea_tor": "¿Ha acordado la red un mandato?",
    "psea_action_plan": "¿Tiene la red un plan de acción para actividades conjuntas de PEAS?",
    "psea_referral": "¿Existe un sistema interinstitucional de remisión de denuncias de explotación y abuso sexuales "
                     "y de asistencia a las víctimas?",
    "psea_referral_victims": "¿Remite el sistema a los sobrevivientes a los servicios de asistencia a las víctimas y "
                             "puntos de contacto (psicosociales, médicos, ...) del país?",
    "psea_staff_trained": "¿A cuántos miembros del personal de la OIM capacitó la oficina en PEAS?",
    "psea_external_trained": "¿A cuántos actores externos (asociados en la ejecución, proveedores de servicios, "
                             "asociados gubernamentales) capacitó la oficina en PEAS?",
    "return_reintegration": "Retorno y reintegración",
    "reintegration": "¿Participó la oficina en actividades de reintegración, en el país de acogida antes del retorno "
                     "o en el país de origen después de la llegada?",
    "reint_before": "Servicios de reintegración prestados antes de la partida",
    "reint_before.hint": "En el país de acogida",
    "reint_after": "Servicios de reintegración prestados después de la llegada",
    "reint_after.hint": "En el país de origen",
    "reint_total": "Total de servicios de reintegración",
    "reint_total.hint": "Un migrante puede recibir varios servicios (p. ej. orientación y asistencia económica)",
    "reint_by_iom": "Del total de servicios de reintegración: prestados por la OIM",
    "reint_by_referral": "Del total de servicios de reintegración: prestados mediante remisiones",
    "sdg": "Desarrollo sostenible y sistema de las Naciones Unidas",
    "sdg_efforts": "¿Intensificó la oficina sus esfuerzos en materia de migración y desarrollo sostenible?",
    "policy_coherence": "¿Trabajó la oficina para garantizar la coherencia de las políticas de migración y "
                        "desarrollo sostenible?",
    "sdg_support": "¿Apoyó la oficina al gobierno en la aplicación de la Agenda 2030 y los Objetivos de Desarrollo "
                   "Sostenible?",
    "cca_migration": "¿Se reflejan la migración y la movilidad en el análisis común sobre el país de las Naciones "
                     "Unidas?",
    "cooperation_framework": "¿Firmó la oficina un nuevo Marco de Cooperación de las Naciones Unidas para el "
                             "Desarrollo Sostenible que integre la migración?",
    "joint_programming": "¿Elaboró la oficina iniciativas de programación conjunta con otros organismos de las "
                         "Naciones Unidas?",
    "gcm": "Pacto Mundial para la Migración Segura, Ordenada y Regular",
    "migration_network": "¿Existe una red nacional o regional sobre migración en el país o la región?",
    "gcm_support": "¿En qué objetivos del Pacto Mundial apoyó la oficina al gobierno?",
    "rcp_engagement": "¿Trabajó la oficina con procesos consultivos regionales sobre migración?",
    "partners": "Alianzas",
    "private_sector": "¿Colaboró activamente la oficina con el sector privado?",
    "civil_society": "¿Trabajó la oficina en estrecha colaboración con la sociedad civil?",
    "igo_cooperation": "¿Cooperó la oficina con organizaciones intergubernamentales ajenas a las Naciones Unidas?",
    "programmes": "Áreas de programa",
    "climate_programming": "¿Participó la oficina en programas sobre migración, medio ambiente y cambio climático?",
    "border_management": "¿Trabajó la oficina en gestión de fronteras?",
    "gender_focus": "¿Fue al menos un aspecto de la igualdad de género un eje general de la labor de la oficina?",
    "gender_areas": "¿Qué aspectos de la igualdad de género?",
    "management": "Gestión de riesgos y evaluación",
    "risk_projects": "¿Gestionó activamente la oficina los riesgos de sus proyectos?",
    "risk_assessment": "¿Realizó la oficina una evaluación completa de riesgos a nivel de país?",
    "evaluation_use": "¿Utilizó la oficina información derivada de evaluaciones para sus intervenciones?",
    "narrative": "El año en resumen",
    "highlights": "Principales resultados del año", "highlights.hint": "Un párrafo breve para el informe anual",
    "comments": "Comentarios sobre este cuestionario",
    "yes_no.yes": "Sí", "yes_no.no": "No",
    "data_source.dtm": "Matriz de Seguimiento de los Desplazamientos (DTM)",
    "data_source.avrr": "Retorno voluntario asistido y reintegración",
    "data_source.mimosa": "Datos de casos en MiMOSA", "data_source.surveys": "Encuestas y evaluaciones",
    "data_source.administrative": "Datos administrativos de asociados gubernamentales",
    "data_source.other": "Otro",
    "referral.in_place": "Establecido", "referral.underway": "En elaboración", "referral.none": "No",
    "gender_area.violence": "Eliminación de la violencia contra las mujeres y las niñas",
    "gender_area.decent_work": "Trabajo decente e igual remuneración por trabajo de igual valor",
    "gender_area.participation": "Participación plena y efectiva de las mujeres", "gender_area.other": "Otro",
}
GCM_FR = [
    "Collecter et utiliser des données exactes et ventilées",
    "Réduire au minimum les facteurs négatifs de la migration",
    "Fournir dans les meilleurs délais des informations exactes",
    "Fournir une identité légale et des papiers adéquats",
    "Accroître la disponibilité et la souplesse des filières de migration régulière",
    "Favoriser des pratiques de recrutement justes et éthiques et un travail décent",
    "S'attaquer aux facteurs de vulnérabilité liés aux migrations et les réduire",
    "Sauver des vies et coordonner les efforts concernant les migrants disparus",
    "Renforcer l'action face au trafic de migrants",
    "Prévenir, combattre et éliminer la traite de personnes",
    "Gérer les frontières de manière intégrée, sûre et coordonnée",
    "Renforcer la sécurité juridique et la prévisibilité des procédures migratoires",
    "Ne recourir à la rétention administrative des migrants qu'en dernier ressort",
    "Renforcer la protection, l'assistance et la coopération consulaires",
    "Assurer l'accès des migrants aux services de base",
    "Donner aux migrants et aux sociétés les moyens de réaliser la pleine intégration et la cohésion sociale",
    "Éliminer toutes les formes de discrimination",
    "Investir dans le perfectionnement des compétences et faciliter la reconnaissance mutuelle des compétences",
    "Créer les conditions permettant aux migrants et aux diasporas de contribuer au développement durable",
    "Promouvoir des transferts de fonds plus rapides, plus sûrs et moins coûteux",
    ("Coopérer en vue de faciliter le retour et la réadmission dans la sécurité et la dignité, ainsi que la "
    "réintégration durable"),
    "Mettre en place des mécanismes de portabilité des droits de sécurité sociale",
    "Renforcer la coopération internationale et les partenariats mondiaux",
]
GCM_ES = [
    "Recopilar y utilizar datos exactos y desglosados",
    "Minimizar los factores adversos de la migración",
    "Proporcionar información exacta y oportuna",
    "Proporcionar identidad jurídica y documentación adecuada",
    "Aumentar la disponibilidad y flexibilidad de las vías de migración regular",
    "Facilitar la contratación equitativa y ética y el trabajo decente",
    "Abordar y reducir las vulnerabilidades en la migración",
    "Salvar vidas y coordinar los esfuerzos sobre los migrantes desaparecidos",
    "Reforzar la respuesta al tráfico ilícito de migrantes",
    "Prevenir, combatir y erradicar la trata de personas",
    "Gestionar las fronteras de manera integrada, segura y coordinada",
    "Aumentar la certidumbre y previsibilidad de los procedimientos migratorios",
    "Utilizar la detención de migrantes solo como último recurso",
    "Mejorar la protección, asistencia y cooperación consulares",
    "Proporcionar a los migrantes acceso a servicios básicos",
    "Empoderar a los migrantes y las sociedades para lograr la plena inclusión y la cohesión social",
    "Eliminar todas las formas de discriminación",
    "Invertir en el desarrollo de aptitudes y facilitar el reconocimiento mutuo de aptitudes",
    "Crear las condiciones para que los migrantes y las diásporas contribuyan al desarrollo sostenible",
    "Promover transferencias de remesas más rápidas, seguras y económicas",
    ("Colaborar para facilitar el regreso y la readmisión en condiciones de seguridad y dignidad, así como la "
    "reintegración sostenible"),
    "Establecer mecanismos para la portabilidad de la seguridad social y las prestaciones adquiridas",
    "Fortalecer la cooperación internacional y las alianzas mundiales",
]
for _i, (_fr, _es) in enumerate(zip(GCM_FR, GCM_ES, strict=True), start=1):
    FR[f"gcm_objective.{_i}"], ES[f"gcm_objective.{_i}"] = f"{_i}. {_fr}", f"{_i}. {_es}"

SETTINGS = ("Institutional questionnaire: the yearly office report", "institutional_questionnaire", "2020.1")
OUT = Path(__file__).resolve().parents[1] / "src/passage/packs/institutional/forms/institutional_questionnaire.xlsx"


def _translated(rows: list[dict]) -> tuple[list[list], list[list]]:
    """Survey and choices rows with a label (and hint) column per language; the missing translations named."""
    missing: list[str] = []

    def texts(key: str, english: str) -> list[str]:
        if not english:
            return ["", "", ""]
        found = [FR.get(key), ES.get(key)]
        missing.extend(f"{lang} {key!r}" for lang, t in zip(("FR", "ES"), found) if not t)
        return [english, *(t or "" for t in found)]

    survey = []
    for row in rows:
        name = row.get("name", "")
        cells = dict(zip((f"label::{lang}" for lang in LANGUAGES), texts(name, row.get("label", ""))))
        cells |= dict(zip((f"hint::{lang}" for lang in LANGUAGES), texts(f"{name}.hint", row.get("hint", ""))))
        survey.append([cells.get(c, row.get(c, "")) for c in COLUMNS])
    choices = [[list_name, value, *texts(f"{list_name}.{value}", label)] for list_name, value, label in CHOICES]
    if missing:
        raise SystemExit("missing translations: " + ", ".join(missing))
    return survey, choices


def main() -> None:
    survey, choices = _translated(SURVEY)
    write_xlsform(OUT, COLUMNS, survey, SETTINGS, choices=choices, bold_header=True,
                  choices_header=("list_name", "name", *(f"label::{lang}" for lang in LANGUAGES)))
    print(f"{OUT} ({sum(1 for r in SURVEY if r['type'] not in ('begin group', 'end group'))} questions, "
          f"labels in {', '.join(LANGUAGES)})")

if __name__ == "__main__":
    main()
