"""HDX HAPI's IDP table, computed from the current DTM records.

One row per admin level, place, operation, assessment type, round and reporting
date, with the population summed over displacement reasons; codes normalised to the
COD, names from the P-code table, the provider's names beside them.
"""

from __future__ import annotations

from functools import cache

import pyarrow as pa

from passage.publish.tables import PublishedTable
from passage.store import Store

COLUMNS = ["location_code", "has_hrp", "in_gho", "provider_admin1_name", "provider_admin2_name", "admin1_code",
           "admin1_name", "admin2_code", "admin2_name", "admin_level", "operation", "assessment_type", "population",
           "reporting_round", "reference_period_start", "reference_period_end", "warning", "error"]

SQL = """
SELECT r.admin0_pcode AS location_code,
       any_value(r.admin1_name) AS provider_admin1_name,
       any_value(r.admin2_name) AS provider_admin2_name,
       coalesce(CASE WHEN r.admin_level >= 1 THEN r.admin1_pcode END, '') AS admin1_code,
       coalesce(any_value(p1.name), '') AS admin1_name,
       coalesce(CASE WHEN r.admin_level >= 2 THEN r.admin2_pcode END, '') AS admin2_code,
       coalesce(any_value(p2.name), '') AS admin2_name,
       r.admin_level,
       r.operation,
       r.assessment_type,
       sum(r.num_present_idp_ind) AS population,
       r.round_number AS reporting_round,
       r.reporting_date AS reference_period_start,
       r.reporting_date AS reference_period_end,
       coalesce(string_agg(DISTINCT r._warnings, '|'), '') AS warning,
       '' AS error
FROM dtm_idps r
LEFT JOIN places p1 ON p1.code = r.admin1_pcode AND r.admin_level >= 1
LEFT JOIN places p2 ON p2.code = r.admin2_pcode AND r.admin_level >= 2
GROUP BY r.admin0_pcode, r.admin_level, r._place_code, admin1_code, admin2_code, r.operation, r.assessment_type,
         r.round_number, r.reporting_date
ORDER BY location_code, r.admin_level, admin1_code, admin2_code, r.operation, r.assessment_type, r.round_number,
         r.reporting_date
"""


@cache
def hrp_gho(iso3: str) -> tuple[bool, bool]:
    """Whether a country has a Humanitarian Response Plan and is in the Global Humanitarian Overview."""
    from hdx.location.country import Country

    info = Country.get_country_info_from_iso3(iso3, use_live=False) or {}
    return info.get("Has HRP") == "Y", info.get("In GHO") == "Y"


def hapi_idps(store: Store) -> PublishedTable:
    sql = SQL if store.dialect == "duckdb" else SQL.replace("any_value(", "min(").replace(
        "string_agg(DISTINCT r._warnings, '|')", "string_agg(DISTINCT r._warnings, '|' ORDER BY r._warnings)")
    data = store.arrow(sql)
    codes = data.column("location_code").to_pylist()
    flags = [hrp_gho(c) for c in codes]
    data = data.append_column("has_hrp", pa.array([f[0] for f in flags]))
    data = data.append_column("in_gho", pa.array([f[1] for f in flags]))
    return PublishedTable("hapi-idps", "HDX HAPI: IDPs by admin area, operation and round", data.select(COLUMNS))
