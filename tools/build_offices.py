"""Write the institutional pack's office list (run after editing the lists below; the CSV is committed).

Headquarters in Geneva, the nine regional offices of 2020 and the country offices each covers, as the
organisation's public regional structure groups them; country names in United Nations short form.
"""

import csv
from pathlib import Path

import pycountry

# Regional office code -> (city, region, host country, countries of its country offices)
REGIONS = {
    "RO-BKK": ("Bangkok", "Asia and the Pacific", "THA",
               ("AFG AUS BGD KHM CHN FJI IND IDN IRN JPN LAO MYS MDV MHL FSM MNG MMR NPL NZL PAK PNG PHL KOR LKA "
               "THA TLS VUT VNM SLB")),
    "RO-BRU": ("Brussels", "the European Economic Area", "BEL",
               ("AUT BEL BGR HRV CYP CZE DNK EST FIN FRA DEU GRC HUN IRL ITA LVA LTU MLT NLD NOR POL PRT ROU SVK "
               "ESP SWE CHE GBR")),
    "RO-BUE": ("Buenos Aires", "South America", "ARG", "ARG BOL BRA CHL COL ECU GUY PRY PER SUR URY VEN"),
    "RO-CAI": ("Cairo", "the Middle East and North Africa", "EGY",
               "DZA BHR EGY IRQ JOR LBN LBY MAR OMN QAT SAU SDN SYR TUN ARE YEM"),
    "RO-DKR": ("Dakar", "West and Central Africa", "SEN",
               "BEN BFA CPV CMR CAF TCD COG CIV COD GNQ GAB GMB GHA GIN GNB LBR MLI MRT NER NGA SEN SLE TGO"),
    "RO-NBO": ("Nairobi", "the East and Horn of Africa", "KEN", "BDI DJI ERI ETH KEN RWA SOM SSD TZA UGA"),
    "RO-PTA": ("Pretoria", "Southern Africa", "ZAF", "AGO BWA LSO MDG MWI MUS MOZ NAM ZAF SWZ ZMB ZWE"),
    "RO-SJO": ("San José", "Central America, North America and the Caribbean", "CRI",
               "BHS BLZ CAN CRI CUB DOM SLV GTM HTI HND JAM MEX NIC PAN TTO USA"),
    "RO-VIE": ("Vienna", "South-Eastern Europe, Eastern Europe and Central Asia", "AUT",
               "ALB ARM AZE BLR BIH GEO KAZ KGZ MDA MNE MKD RUS SRB TJK TUR TKM UKR UZB"),
}
# United Nations short names where ISO 3166's differ.
UN_NAMES = {
    "BOL": "Bolivia (Plurinational State of)",
    "BHS": "Bahamas",
    "CIV": "Côte d'Ivoire",
    "COD": "Democratic Republic of the Congo",
    "COG": "Congo",
    "CZE": "Czechia",
    "CPV": "Cabo Verde",
    "FSM": "Micronesia (Federated States of)",
    "GBR": "United Kingdom",
    "GMB": "Gambia",
    "IRN": "Iran (Islamic Republic of)",
    "KOR": "Republic of Korea",
    "LAO": "Lao People's Democratic Republic",
    "MDA": "Republic of Moldova",
    "MKD": "North Macedonia",
    "NLD": "Netherlands",
    "RUS": "Russian Federation",
    "SWZ": "Eswatini",
    "SYR": "Syrian Arab Republic",
    "TUR": "Turkey",
    "TZA": "United Republic of Tanzania",
    "USA": "United States of America",
    "VEN": "Venezuela (Bolivarian Republic of)",
    "VNM": "Viet Nam",
}
OUT = Path(__file__).resolve().parents[1] / "src/passage/packs/institutional/offices.csv"


def country_name(iso3: str) -> str:
    return UN_NAMES.get(iso3) or pycountry.countries.get(alpha_3=iso3).name


def rows() -> list[list[str]]:
    out = [["HQ", "Headquarters, Geneva", "hq", "", "CHE"]]
    for code, (city, region, host, _) in REGIONS.items():
        out.append([code, f"Regional Office for {region}, {city}", "regional", "HQ", host])
    for code, (_, _, _, countries) in REGIONS.items():
        for iso3 in sorted(countries.split(), key=country_name):
            out.append([f"CO-{iso3}", f"IOM {country_name(iso3)}", "country", code, iso3])
    return out


def main() -> None:
    data = rows()
    codes = [r[0] for r in data]
    assert len(codes) == len(set(codes)), "an office is listed twice"
    with OUT.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["code", "name", "kind", "parent", "iso3"])
        w.writerows(data)
    print(f"{OUT} ({len(data)} offices)")


if __name__ == "__main__":
    main()
