"""Write the DTM pack's XLSForm (run once after editing the lists below; the .xlsx is committed)."""

from pathlib import Path

from xlsform_writer import write_xlsform

SURVEY = [
    # type, name, label, required, constraint, constraint_message, relevant, hint
    ("text", "dtm_id", "DTM record id", "", "", "", "", "The provider's row id (admin1/admin2 rows)"),
    ("text", "operation", "Operation", "yes", "", "", "", "e.g. Nigeria - North-East"),
    ("text", "admin0_name", "Country name", "", "", "", "", ""),
    ("text", "admin0_pcode", "Country code (ISO3)", "yes", "regex(., '^[A-Z]{3}$')", "Three capital letters", "", ""),
    ("text", "admin1_name", "Admin 1 name", "", "", "", "", ""),
    ("text", "admin1_pcode", "Admin 1 P-code", "", "", "", "${admin_level} >= 1", ""),
    ("text", "admin2_name", "Admin 2 name", "", "", "", "", ""),
    ("text", "admin2_pcode", "Admin 2 P-code", "", "", "", "${admin_level} >= 2", ""),
    ("integer", "admin_level", "Admin level", "yes", ". >= 0 and . <= 2", "0, 1 or 2", "", "Implied by which codes are filled"),
    ("integer", "num_present_idp_ind", "IDPs present (individuals)", "yes", "", "", "", ""),
    ("date", "reporting_date", "Reporting date", "yes", "", "", "", ""),
    ("integer", "year_reporting_date", "Reporting year", "", ". >= 1990 and . <= 2100", "A year", "", ""),
    ("integer", "month_reporting_date", "Reporting month", "", ". >= 1 and . <= 12", "1 to 12", "", ""),
    ("integer", "round_number", "Assessment round", "yes", ". >= 0", "Rounds count from 0", "", ""),
    ("text", "displacement_reason", "Displacement reason", "", "", "", "", "Normalised: lower case, '; '-joined"),
    ("integer", "number_males", "Males", "", "", "", "", ""),
    ("integer", "number_females", "Females", "", "", "", "", ""),
    ("text", "idp_origin_admin1_name", "Origin admin 1 name", "", "", "", "", "'Not available' is stored as empty"),
    ("text", "idp_origin_admin1_pcode", "Origin admin 1 P-code", "", "", "", "", ""),
    ("select_one assessment", "assessment_type", "Assessment type", "", "", "", "", ""),
    ("text", "operation_status", "Operation status", "", "", "", "", ""),
    ("text", "provider_admin1_pcode", "Admin 1 P-code as the provider gave it", "", "", "", "", "Kept when normalised"),
    ("text", "provider_admin2_pcode", "Admin 2 P-code as the provider gave it", "", "", "", "", "Kept when normalised"),
    ("text", "provider_idp_origin_admin1_pcode", "Origin P-code as the provider gave it", "", "", "", "", ""),
]
CHOICES = [
    ("assessment", "BA", "Baseline assessment"),
    ("assessment", "ETT", "Event tracking"),
    ("assessment", "SA", "Site / location assessment"),
]


def main() -> None:
    out = Path(__file__).resolve().parents[1] / "src/passage/packs/dtm/forms/dtm_idps.xlsx"
    write_xlsform(out, ["type", "name", "label", "required", "constraint", "constraint_message", "relevant", "hint"],
                  SURVEY, ["DTM mobility tracking: IDPs by admin area and round", "dtm_idps", "2024.1"],
                  choices=CHOICES)
    print(out)


if __name__ == "__main__":
    main()
