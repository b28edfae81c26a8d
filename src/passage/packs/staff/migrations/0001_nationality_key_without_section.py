"""The nationality list's record key drops `section`: `year, list, annex, section, country` becomes
`year, list, annex, country`.

An annex lists a country once, among the Member States or among the observers/others: so do the 2020
report's Annex II and III (`reference/nationalities_2020.csv`), and the staff register counts a person under
one (section, country) of each annex. With `section` in the key, one country under both sections of an annex
was two records: the key check let such a list through (the importer needed a hand-written check of its own),
and an edit could move a country into the other section beside itself. Under the new key the key check
refuses both, and a record id names a country of an annex (`2021|<list>|annex2_general_service|Kenya`).
Two records of one list that name the same country in one annex make the migration refuse, listing them.
"""

from __future__ import annotations

from typing import Any

from passage.store.migrations.record_keys import change_record_key

FORM = "staff_nationality"
OLD_KEY = ["year", "list", "annex", "section", "country"]
NEW_KEY = ["year", "list", "annex", "country"]


def apply(store: Any, migration: Any) -> dict[str, Any]:
    return change_record_key(store, FORM, OLD_KEY, NEW_KEY, migration)
