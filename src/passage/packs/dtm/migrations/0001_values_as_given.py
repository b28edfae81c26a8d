"""`dtm_idps` records gain the provider's text beside the values the importer normalises:
`reporting_date_as_given`, `displacement_reason_as_given`, `idp_origin_admin1_name_as_given`,
`idp_origin_admin1_pcode_as_given` (the timestamp as a timestamp, the others as text), which the
`dtm_idps` export now writes (IOM's `2017-09-30T00:00:00`,
`Conflict; Natural disaster`, `Not available`).

Records imported before kept only the normalised values: each version's new fields are filled from them (the
date at midnight, the reason as stored, the origin as stored, its code as the provider gave it where the
P-code check converted it), so the export writes what the store knows. Importing the file again with
`--update` brings the text as IOM wrote it (a new version where it differs).
"""

from __future__ import annotations

from typing import Any

TABLE = "rec_dtm_idps"
FILL = {
    "reporting_date_as_given": "CAST(reporting_date AS TIMESTAMP)",
    "displacement_reason_as_given": "displacement_reason",
    "idp_origin_admin1_name_as_given": "idp_origin_admin1_name",
    "idp_origin_admin1_pcode_as_given": "coalesce(provider_idp_origin_admin1_pcode, idp_origin_admin1_pcode)",
}


def apply(store: Any, migration: Any) -> dict[str, Any]:
    if not store.table_exists(TABLE):
        return {"form": "dtm_idps", "versions": 0}
    from passage.plugins import install_pack

    for field in FILL:  # in this schema (a server may hold other stores' tables of the same name)
        kind = "TIMESTAMP" if field == "reporting_date_as_given" else "VARCHAR"
        store.execute(f"ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS {field} {kind}")
    install_pack(store, "dtm")  # the form's new version, and its view showing the fields
    sets = ", ".join(f"{field} = {value}" for field, value in FILL.items())
    empty = " AND ".join(f"{field} IS NULL" for field in FILL)
    versions = store.scalar(f"SELECT count(*) FROM {TABLE} WHERE {empty}")
    store.execute(f"UPDATE {TABLE} SET {sets} WHERE {empty}")
    return {"form": "dtm_idps", "versions": int(versions or 0)}
