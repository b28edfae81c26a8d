"""Generated tracker files shaped like the real ones (no COBAP or OxCGRT long file is redistributed here).

- COBAP `policy_list.csv`: the issue's exact columns, dates written MM_DD_YY as COBAP's files do (or DD_MM_YY,
  or with every part <= 12), `NONE` end dates, XKX / EUR / SOL codes, Namibia's ISO2 `NA`, an end before its
  start, quoted multi-line comments and country lists.
- OxCGRT long national files: `CountryName,CountryCode,RegionName,RegionCode,Jurisdiction,Date,...` with the
  many other indicator columns, NAT_TOTAL and STATE_TOTAL rows, `3.0`-style values and blanks; the 2023 layout
  (`C8EV_`, `C8NV_`, `C8V_International travel controls`) and the older `C8_International travel controls`.
"""

from __future__ import annotations

import csv
import random
from datetime import date, timedelta
from pathlib import Path

COBAP_COLUMNS = [
    "ID", "COUNTRY_NAME", "ISO3", "ISO2", "POLICY_TYPE", "POLICY_SUBTYPE", "START_DATE", "END_DATE", "AIR",
    "AIR_TYPE", "TARGETS_AIR", "LAND", "LAND_TYPE", "TARGETS_LAND", "SEA", "SEA_TYPE", "TARGETS_SEA", "CITIZEN",
    "CITIZEN_LIST", "HISTORY_BAN", "HISTORY_BAN_LIST", "REFUGEE", "REFUGEE_LIST", "VISA_BAN", "VISA_BAN_TYPE",
    "VISA_BAN_LIST", "CITIZEN_EXCEP", "CITIZEN_EXCEP_LIST", "COUNTRY_EXCEP", "COUNTRY_EXCEP_LIST", "WORK_EXCEP",
    "SOURCE_QUALITY", "SOURCE_TYPE", "INTERNAL_GOVT_SOURCE", "AIRLINE_SOURCE", "INSURANCE_SOURCE",
    "GOVT_SOCIAL_MED_SOURCE", "EXT_GOVT_SOURCE", "INTERNAL_MEDIA_SOURCE", "EXT_MEDIA_SOURCE", "OTHER_SOURCE",
    "END_SOURCE", "COMMENTS", "OLD_ID",
]

# (ID, country, ISO3, ISO2, type, subtype, start, end or None, air, land, sea, citizen, history, comment)
COBAP_POLICIES = [
    ("AR03", "Argentina", "ARG", "AR", "COMPLETE", "ESSENTIAL_ONLY", date(2020, 3, 27), date(2020, 4, 26),
     0, 0, 0, 0, 0, "Original policy started on 3/27 and was extended twice, sources reflect this"),
    ("MA10", "Morocco", "MAR", "MA", "COMPLETE", "ESSENTIAL_ONLY", date(2020, 3, 20), date(2020, 6, 1),
     0, 0, 0, 0, 0, ""),
    ("SA02", "Saudi Arabia", "SAU", "SA", "COMPLETE", "ESSENTIAL_ONLY", date(2020, 3, 15), None, 0, 0, 0, 0, 0, ""),
    ("AI01", "Anguilla", "AIA", "AI", "COMPLETE", "CITIZEN_EXCEP", date(2020, 3, 24), date(2020, 7, 12),
     0, 0, 0, 0, 0, ""),
    ("NA02", "Namibia", "NAM", "NA", "COMPLETE", "CITIZEN_EXCEP", date(2020, 3, 24), date(2020, 9, 17),
     0, 0, 0, 0, 0, ""),
    ("DZ05", "Algeria", "DZA", "DZ", "PARTIAL", "BORDER_CLOSURE", date(2020, 3, 17), date(2021, 6, 1),
     1, 0, 1, 0, 0, ""),
    ("ES08", "Spain", "ESP", "ES", "PARTIAL", "BORDER_CLOSURE", date(2020, 3, 11), date(2020, 3, 23),
     1, 0, 0, 0, 0, "Flights from Italy only.\nSecond line of the comment."),
    ("XK01", "Kosovo", "XKX", "XK", "PARTIAL", "CITIZENSHIP_BAN", date(2020, 3, 13), None, 0, 0, 0, 1, 0, ""),
    ("EU01", "European Union Schengen Zone", "EUR", "EU", "PARTIAL", "HISTORY_BAN", date(2020, 3, 17),
     date(2020, 6, 30), 0, 0, 0, 0, 1, "Schengen external borders, \"non-essential\" travel"),
    ("XS01", "Somaliland", "SOL", "XS", "COMPLETE", "ESSENTIAL_ONLY", date(2020, 3, 26), None, 0, 0, 0, 0, 0, ""),
    ("US07", "United States of America", "USA", "US", "PARTIAL", "VISA_BAN", date(2020, 6, 24), date(2021, 3, 31),
     0, 0, 0, 0, 0, ""),
    ("BN01", "Brunei Darussalam", "BRN", "BN", "COMPLETE", "ESSENTIAL_ONLY", date(2020, 3, 23), date(2020, 3, 17),
     0, 0, 0, 0, 0, "End date precedes start date in the source"),
    ("SE01", "Sweden", "SWE", "SE", "NOPOLICYIMPLEMENTED", "NONE", date(2020, 3, 19), date(2020, 12, 1),
     0, 0, 0, 0, 0, ""),
    ("MX01", "Mexico", "MEX", "MX", "NOPOLICYIMPLEMENTED", "NONE", date(2020, 1, 22), None, 0, 0, 0, 0, 0, ""),
]
# Dates of the same policies with every part <= 12 (month and day both fit): an ambiguous file.
AMBIGUOUS_DATES = {
    "AR03": (date(2020, 3, 7), date(2020, 4, 6)), "MA10": (date(2020, 3, 10), date(2020, 6, 1)),
    "SA02": (date(2020, 3, 5), None), "AI01": (date(2020, 3, 4), date(2020, 7, 12)),
    "NA02": (date(2020, 3, 4), date(2020, 9, 7)), "DZ05": (date(2020, 3, 7), date(2021, 6, 1)),
    "ES08": (date(2020, 3, 11), date(2020, 3, 12)), "XK01": (date(2020, 3, 12), None),
    "EU01": (date(2020, 3, 7), date(2020, 6, 10)), "XS01": (date(2020, 3, 6), None),
    "US07": (date(2020, 6, 4), date(2021, 3, 1)), "BN01": (date(2020, 3, 3), date(2020, 3, 1)),
    "SE01": (date(2020, 3, 9), date(2020, 12, 1)), "MX01": (date(2020, 1, 2), None),
}
SCHENGEN = "Afghanistan, Albania, Algeria, China, Hong Kong, Iran, Italy, Korea (South), United States of America"


def cobap_date(d: date, order: str) -> str:
    """As COBAP writes them: MM_DD_YY (its files) or DD_MM_YY (its documentation)."""
    a, b = (d.month, d.day) if order == "mdy" else (d.day, d.month)
    return f"{a:02d}_{b:02d}_{d.year % 100:02d}"


def cobap_rows(order: str = "mdy", ambiguous: bool = False) -> list[dict[str, str]]:
    rows = []
    for (pid, name, iso3, iso2, ptype, sub, start, end, air, land, sea, cit, hist, comment) in COBAP_POLICIES:
        if ambiguous:
            start, end = AMBIGUOUS_DATES[pid]
        row = {c: "NA" for c in COBAP_COLUMNS}
        row.update({
            "ID": pid, "COUNTRY_NAME": name, "ISO3": iso3, "ISO2": iso2, "POLICY_TYPE": ptype,
            "POLICY_SUBTYPE": sub, "START_DATE": cobap_date(start, order),
            "END_DATE": "NONE" if end is None else cobap_date(end, order),
            "AIR": str(air), "AIR_TYPE": "Specific" if air and pid == "ES08" else ("All" if air else "NA"),
            "TARGETS_AIR": "Italy" if pid == "ES08" else "NA",
            "LAND": str(land), "SEA": str(sea), "SEA_TYPE": "All" if sea else "NA",
            "CITIZEN": str(cit), "CITIZEN_LIST": "China, Iran" if cit else "NA",
            "HISTORY_BAN": str(hist), "HISTORY_BAN_LIST": SCHENGEN if hist else "NA",
            "REFUGEE": "0", "VISA_BAN": "1" if sub == "VISA_BAN" else "0",
            "VISA_BAN_TYPE": "All" if sub == "VISA_BAN" else "NA",
            "CITIZEN_EXCEP": "1" if sub == "CITIZEN_EXCEP" else "0",
            "CITIZEN_EXCEP_LIST": "citizens, permanent residents" if sub == "CITIZEN_EXCEP" else "NA",
            "COUNTRY_EXCEP": "0", "WORK_EXCEP": "0",
            "SOURCE_QUALITY": "Very Sure", "SOURCE_TYPE": "1,3",
            "INTERNAL_GOVT_SOURCE": f"https://web.archive.org/web/2020/https://gov.example/{pid.lower()}",
            "AIRLINE_SOURCE": "", "INSURANCE_SOURCE": "", "GOVT_SOCIAL_MED_SOURCE": "", "EXT_GOVT_SOURCE": "",
            "INTERNAL_MEDIA_SOURCE": "", "EXT_MEDIA_SOURCE": "", "OTHER_SOURCE": "", "END_SOURCE": "",
            "COMMENTS": comment, "OLD_ID": str(100 + len(rows)),
        })
        rows.append(row)
    return rows


def write_cobap(path: Path, order: str = "mdy", *, ambiguous: bool = False, rows: list[dict] | None = None,
                columns: list[str] | None = None, bom: bool = False, crlf: bool = False) -> Path:
    rows = rows if rows is not None else cobap_rows(order, ambiguous)
    columns = columns or COBAP_COLUMNS
    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\r\n" if crlf else "\n")
        w.writerow(columns)
        for r in rows:
            w.writerow([r.get(c, "") for c in columns])
    return path


# --------------------------------------------------------------------------- OxCGRT long national files

OTHER_BEFORE = ["C1M_School closing", "C1M_Flag", "C2M_Workplace closing", "C2M_Flag", "C3M_Cancel public events",
                "C3M_Flag", "C4M_Restrictions on gatherings", "C4M_Flag", "C5M_Close public transport", "C5M_Flag",
                "C6M_Stay at home requirements", "C6M_Flag", "C7M_Restrictions on internal movement", "C7M_Flag"]
OTHER_AFTER = ["E1_Income support", "E1_Flag", "E2_Debt/contract relief", "E3_Fiscal measures",
               "E4_International support", "H1_Public information campaigns", "H1_Flag", "H2_Testing policy",
               "H3_Contact tracing", "H6M_Facial Coverings", "H6M_Flag", "H7_Vaccination policy", "H7_Flag",
               "M1_Wildcard", "V1_Vaccine Prioritisation (summary)", "ConfirmedCases", "ConfirmedDeaths",
               "MajorityVaccinated", "PopulationVaccinated", "StringencyIndex_Average",
               "StringencyIndex_Average_ForDisplay", "GovernmentResponseIndex_Average", "ContainmentHealthIndex_Average",
               "EconomicSupportIndex"]
OLD_BEFORE = ["C1_School closing", "C1_Flag", "C2_Workplace closing", "C2_Flag", "C7_Restrictions on internal movement",
              "C7_Flag"]
OLD_AFTER = ["E1_Income support", "E1_Flag", "H1_Public information campaigns", "H1_Flag", "M1_Wildcard",
             "ConfirmedCases", "ConfirmedDeaths", "StringencyIndex", "StringencyIndexForDisplay"]
LONG_COUNTRIES = [("Aruba", "ABW"), ("Italy", "ITA"), ("Kosovo", "RKS"), ("United States", "USA")]
US_STATES = [("Alaska", "US_AK"), ("California", "US_CA")]


def oxcgrt_long(path: Path, layout: str = "c8ev", days: int = 40, start: date = date(2022, 7, 1), seed: int = 4,
                *, bom: bool = False, crlf: bool = False, blank_every: int = 9) -> Path:
    """A long national file: layout `c8ev` (C8EV/C8NV/C8V, 2023 files) or `c8` (older `C8_...`)."""
    rnd = random.Random(seed)
    if layout == "c8ev":
        c8 = ["C8EV_International travel controls", "C8NV_International travel controls",
              "C8V_International travel controls"]
        before, after = OTHER_BEFORE, OTHER_AFTER
    else:
        c8 = ["C8_International travel controls"]
        before, after = OLD_BEFORE, OLD_AFTER
    header = ["CountryName", "CountryCode", "RegionName", "RegionCode", "Jurisdiction", "Date", *before, *c8, *after]
    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\r\n" if crlf else "\n")
        w.writerow(header)
        places = [(n, c, "", "", "NAT_TOTAL") for n, c in LONG_COUNTRIES]
        places += [("United States", "USA", n, r, "STATE_TOTAL") for n, r in US_STATES]
        n = 0
        for name, code, region, rcode, jur in places:
            for k in range(days):
                n += 1
                day = start + timedelta(days=k)
                vals = []
                for _ in c8:
                    v = rnd.randint(0, 4)
                    vals.append("" if n % blank_every == 0 else f"{v}.0" if rnd.random() < 0.7 else str(v))
                w.writerow([name, code, region, rcode, jur, day.strftime("%Y%m%d"), *_other(rnd, before), *vals,
                            *_other(rnd, after)])
    return path


def _other(rnd: random.Random, columns: list[str]) -> list[str]:
    """Values of the indicator columns the importer ignores."""
    return [f"{rnd.randint(0, 3)}.0" if rnd.random() < 0.8 else "" for _ in columns]
