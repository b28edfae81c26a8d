"""Write the travel pack's XLSForms (run once after editing the lists below; the .xlsx files are committed).

Four forms, after IOM's COVID-19 mobility model: a travel measure, a tracker's daily level (OxCGRT C8),
the point-of-entry registry and a PoE's assessment on a date.
"""

from pathlib import Path

from xlsform_writer import write_xlsform

OUT = Path(__file__).resolve().parents[1] / "src/passage/packs/travel/forms"
HEADER = ["type", "name", "label", "required", "constraint", "constraint_message", "relevant", "hint",
          "choice_filter"]
ISO3 = "regex(., '^[A-Z]{3}$')"
LISTED = "${applies_to} = 'listed'"
ISO3_LIST = "regex(., '^[A-Z]{3}( [A-Z]{3})*$')"
RESTRICTIONS = "complete_closure border_closure nationality_ban visa_suspension flight_suspension other_restriction"
CONDITIONS = ("health_certificate negative_test quarantine test_on_arrival health_screening visa_document_requirement "
              "passenger_locator_form registration health_app insurance other_condition")
SUBCATEGORY_OF_CATEGORY = (f"(${{category}} = 'entry_restriction' and selected('{RESTRICTIONS}', .)) or "
                           f"(${{category}} = 'entry_condition' and selected('{CONDITIONS}', .))")

# type, name, label, required, constraint, constraint_message, relevant, hint, choice_filter
TRAVEL_MEASURE = [
    ("select_one source", "source", "Who coded the measure", "yes",
     "string-length(${date_in_force}) > 0 or . = 'acaps'", "The date in force is required for IOM and COBAP measures", "", "", ""),
    ("text", "source_id", "Provider's ID of the measure", "yes", "", "", "", "COBAP ID, ACAPS ID; IOM: any unique id", ""),
    ("text", "iso3", "Issuing country, territory or area (ISO3)", "yes", ISO3, "Three capital letters", "",
     "The provider's code is kept even when it is not ISO 3166 (XKX, EUR)", ""),
    ("text", "country_name", "Country, territory or area name", "", "", "", "", "", ""),
    ("select_one applies", "applies_to", "To whom the measure applies", "", "", "", "", "", ""),
    ("text", "departure_countries", "Countries of departure concerned (ISO3, space-separated)", "", ISO3_LIST,
     "ISO3 codes separated by spaces", LISTED, "", ""),
    ("text", "nationality_countries", "Nationalities concerned (ISO3, space-separated)", "", ISO3_LIST,
     "ISO3 codes separated by spaces", LISTED, "", ""),
    ("text", "residence_countries", "Countries of residence concerned (ISO3, space-separated)", "", ISO3_LIST,
     "ISO3 codes separated by spaces", LISTED, "", ""),
    ("select_one category", "category", "Category (IOM model)", "", "", "", "",
     "Blank when the provider's category could not be mapped", ""),
    ("select_one subcategory", "subcategory", "Subcategory (IOM model)", "", SUBCATEGORY_OF_CATEGORY,
     "The subcategory belongs to another category", "${category} != ''", "", "category=${category}"),
    ("select_one condition_group", "condition_group", "Group of the condition for authorised entry", "", "", "",
     "${category} = 'entry_condition'", "", ""),
    ("select_multiple exception", "exceptions", "Exceptions", "", "", "", "", "", ""),
    ("select_one action", "action", "Introduced or phased out", "yes", "", "", "",
     "ACAPS 'Phase-out measure' rows are phase_out; everything else introduce", ""),
    ("date", "date_issued", "Date issued", "", "", "", "", "", ""),
    ("date", "date_in_force", "Date in force", "", "", "", "", "Required for IOM and COBAP measures", ""),
    ("date", "date_lifted", "Date lifted", "", "", "", "", "Empty while the measure is in force", ""),
    ("text", "native_category", "Provider's category", "", "", "", "",
     "COBAP POLICY_TYPE; ACAPS CATEGORY", ""),
    ("text", "native_measure", "Provider's measure", "", "", "", "", "COBAP POLICY_SUBTYPE; ACAPS MEASURE", ""),
    ("text", "native_value", "Provider's coding, compact", "", "", "", "", "e.g. PARTIAL/BORDER_CLOSURE air:All", ""),
    ("text", "source_name", "Source name", "", "", "", "", "", ""),
    ("text", "source_url", "Source URL", "", "", "", "", "", ""),
    ("text", "notes", "Notes", "", "", "", "", "", ""),
]
TRAVEL_MEASURE_CHOICES = [
    ("source", "iom", "IOM", ""),
    ("source", "cobap", "COVID Border Accountability Project (COBAP)", ""),
    ("source", "acaps", "ACAPS COVID-19 government measures", ""),
    ("applies", "all", "All travellers", ""),
    ("applies", "listed", "Listed countries of departure, nationality or residence", ""),
    ("category", "entry_restriction", "Entry restriction", ""),
    ("category", "entry_condition", "Condition for authorised entry", ""),
    ("category", "exit_restriction", "Exit restriction", ""),
    ("category", "not_travel", "Not a travel measure", ""),
    ("subcategory", "complete_closure", "Complete closure", "entry_restriction"),
    ("subcategory", "border_closure", "Border closure (some borders or neighbours)", "entry_restriction"),
    ("subcategory", "nationality_ban", "Nationality ban", "entry_restriction"),
    ("subcategory", "visa_suspension", "Visa suspension", "entry_restriction"),
    ("subcategory", "flight_suspension", "Flight suspension", "entry_restriction"),
    ("subcategory", "other_restriction", "Other entry restriction", "entry_restriction"),
    ("subcategory", "health_certificate", "Health certificate", "entry_condition"),
    ("subcategory", "negative_test", "Negative test result", "entry_condition"),
    ("subcategory", "quarantine", "Quarantine", "entry_condition"),
    ("subcategory", "test_on_arrival", "Test on arrival", "entry_condition"),
    ("subcategory", "health_screening", "Health screening", "entry_condition"),
    ("subcategory", "visa_document_requirement", "Visa or travel-document requirement", "entry_condition"),
    ("subcategory", "passenger_locator_form", "Passenger locator form", "entry_condition"),
    ("subcategory", "registration", "Registration", "entry_condition"),
    ("subcategory", "health_app", "Health app or QR code", "entry_condition"),
    ("subcategory", "insurance", "Insurance", "entry_condition"),
    ("subcategory", "other_condition", "Other condition", "entry_condition"),
    ("condition_group", "medical", "Medical", ""),
    ("condition_group", "visa_document", "Visa or travel documents", ""),
    ("condition_group", "location_surveillance", "Location surveillance", ""),
    ("condition_group", "other", "Other", ""),
    ("exception", "nationals", "Nationals", ""),
    ("exception", "residents", "Residents", ""),
    ("exception", "diplomats", "Diplomats", ""),
    ("exception", "health_workers", "Health workers", ""),
    ("exception", "transport_workers", "Transport workers", ""),
    ("exception", "humanitarian_staff", "Humanitarian staff", ""),
    ("exception", "students", "Students", ""),
    ("exception", "family", "Family members", ""),
    ("exception", "other", "Other", ""),
    ("action", "introduce", "Introduction or extension", ""),
    ("action", "phase_out", "Phase-out", ""),
]

TRAVEL_LEVEL = [
    ("text", "source", "Tracker", "yes", "", "", "", "oxcgrt", ""),
    ("text", "iso3", "Country, territory or area (ISO3)", "yes", ISO3, "Three capital letters", "", "", ""),
    ("text", "country_name", "Country, territory or area name", "", "", "", "", "", ""),
    ("date", "date", "Date", "yes", "", "", "", "", ""),
    ("text", "indicator", "Indicator", "yes", "", "", "", "C8, C8EV, C8NV or C8V", ""),
    ("integer", "value", "Level", "yes", ". >= 0 and . <= 4", "A level from 0 to 4", "",
     "0 no measures, 1 screening, 2 quarantine, 3 ban on some regions, 4 total border closure", ""),
]

POE = [
    ("text", "code", "Point-of-entry code", "yes", "", "", "", "", ""),
    ("text", "name", "Name", "", "", "", "", "", ""),
    ("select_one poe_type", "poe_type", "Type", "", "", "", "", "", ""),
    ("select_one blue_border_kind", "blue_border_kind", "Blue border: sea, river or lake", "", "", "",
     "${poe_type} = 'blue_border'", "", ""),
    ("text", "iata_code", "IATA airport code", "", ISO3, "Three capital letters", "${poe_type} = 'airport'", "", ""),
    ("text", "iso3", "Country, territory or area (ISO3)", "yes", ISO3, "Three capital letters", "", "", ""),
    ("text", "admin1_pcode", "Admin 1 P-code", "", "", "", "", "", ""),
    ("decimal", "latitude", "Latitude", "", ". >= -90 and . <= 90", "Between -90 and 90", "", "", ""),
    ("decimal", "longitude", "Longitude", "", ". >= -180 and . <= 180", "Between -180 and 180", "", "", ""),
    ("text", "neighbour_iso3", "Neighbouring country (ISO3)", "", ISO3, "Three capital letters",
     "${poe_type} = 'land_border' or ${poe_type} = 'blue_border'", "", ""),
]
POE_CHOICES = [
    ("poe_type", "airport", "Airport", ""),
    ("poe_type", "land_border", "Land border crossing point", ""),
    ("poe_type", "blue_border", "Blue border crossing point", ""),
    ("poe_type", "internal_transit", "Internal transit point", ""),
    ("blue_border_kind", "sea", "Sea", ""),
    ("blue_border_kind", "river", "River", ""),
    ("blue_border_kind", "lake", "Lake", ""),
]

POE_ASSESSMENT = [
    ("text", "poe_code", "Point-of-entry code", "yes", "", "", "", "", ""),
    ("date", "assessment_date", "Assessment date", "yes", "", "", "", "", ""),
    ("select_one operational_status", "operational_status", "Operational status", "", "", "", "", "", ""),
    ("select_one yes_no_unknown", "entry_restrictions", "Restrictions on entry", "", "", "", "", "", ""),
    ("select_one yes_no_unknown", "exit_restrictions", "Restrictions on exit", "", "", "", "", "", ""),
    ("select_multiple measure", "measures", "Measures applied", "", "", "", "", "", ""),
    ("select_multiple population", "populations", "Population categories affected", "", "", "", "", "", ""),
    ("text", "iso3", "Country, territory or area (ISO3)", "", ISO3, "Three capital letters", "",
     "Copied from the registry or given", ""),
    ("text", "notes", "Notes", "", "", "", "", "", ""),
]
POE_ASSESSMENT_CHOICES = [
    ("operational_status", "fully_closed", "Fully closed", ""),
    ("operational_status", "partially_operational", "Partially operational", ""),
    ("operational_status", "fully_operational", "Fully operational", ""),
    ("operational_status", "unknown", "Unknown", ""),
    ("yes_no_unknown", "yes", "Yes", ""),
    ("yes_no_unknown", "no", "No", ""),
    ("yes_no_unknown", "unknown", "Unknown", ""),
    ("measure", "entry_restrictions", "Entry restrictions", ""),
    ("measure", "exit_restrictions", "Exit restrictions", ""),
    ("measure", "visa_changes", "Visa changes", ""),
    ("measure", "nationality_disembarkation", "Nationality-specific disembarkation restrictions", ""),
    ("measure", "identity_document_changes", "Identity-document changes", ""),
    ("measure", "health_staffing", "Medical: health staffing", ""),
    ("measure", "sops", "Medical: standard operating procedures", ""),
    ("measure", "risk_communication", "Medical: risk communication", ""),
    ("measure", "infection_prevention_control", "Medical: infection prevention and control", ""),
    ("measure", "surveillance_referral", "Medical: surveillance and referral", ""),
    ("population", "regular_travellers", "Regular travellers", ""),
    ("population", "nationals", "Nationals", ""),
    ("population", "migrants_stranded", "Migrants stranded", ""),
    ("population", "migrants_returning", "Migrants returning", ""),
    ("population", "idps", "Internally displaced persons", ""),
    ("population", "asylum_seekers", "Asylum seekers", ""),
]

FORMS = [
    ("travel_measure", "Travel measure (IOM model)", TRAVEL_MEASURE, TRAVEL_MEASURE_CHOICES),
    ("travel_level", "Travel controls level (tracker, daily)", TRAVEL_LEVEL, []),
    ("poe", "Point of entry", POE, POE_CHOICES),
    ("poe_assessment", "Point-of-entry assessment", POE_ASSESSMENT, POE_ASSESSMENT_CHOICES),
]


def write(form_id: str, title: str, survey: list[tuple], choices: list[tuple]) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    return write_xlsform(OUT / f"{form_id}.xlsx", HEADER, survey, [title, form_id, "2020.1"],
                         choices_header=["list_name", "name", "label", "category"], choices=choices)


def main() -> None:
    for form in FORMS:
        print(write(*form))


if __name__ == "__main__":
    main()
