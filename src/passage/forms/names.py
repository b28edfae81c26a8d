"""Storage names: the SQL identifiers a form's ids and field names become.

XLSForm names may hold hyphens, dots or spaces, be SQL keywords (`group`, `order`), repeat in two groups
(`hoh/age`, `spouse/age`), differ only by case, or look like Passage's system columns (`_version`). The
record tables need plain identifiers, the same on DuckDB and PostgreSQL (which folds unquoted names to
lower case), so every name gets a storage name: unchanged when it is already safe, so existing forms keep
their columns; mapped otherwise, deterministically (the same form always gives the same names).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Reserved words of DuckDB (duckdb_keywords(), category 'reserved') and PostgreSQL (reserved, and reserved
# "can be function or type"): unquoted, they cannot name a column.
_RESERVED_WORDS = """
all analyse analyze and any array as asc asymmetric authorization binary both case cast check
collate collation column concurrently constraint create cross current_catalog current_date current_role
current_schema current_time current_timestamp current_user default deferrable desc describe distinct do else
end except false fetch for foreign freeze from full grant group having ilike in initially inner intersect into
is isnull join lambda lateral leading left like limit localtime localtimestamp natural not notnull null offset
on only or order outer overlaps pivot pivot_longer pivot_wider placing primary qualify references returning
right select session_user show similar some summarize symmetric system_user table tablesample then to trailing
true union unique unpivot user using variadic verbose when where window with
"""
RESERVED = frozenset(_RESERVED_WORDS.split())

_SAFE = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
MAX_LEN = 60  # PostgreSQL cuts identifiers at 63 bytes; leave room for suffixes (`__repeat`, `_2`)


def is_safe(name: str) -> bool:
    """Usable unquoted as a column or table name on both stores, and not like a system column."""
    return bool(_SAFE.match(name)) and name.lower() not in RESERVED and len(name) <= MAX_LEN


def safe_ident(name: str) -> str:
    """`name` itself when safe, else a plain identifier made from it (`hh-size` -> `hh_size`,
    `group` -> `group_`, `_version` -> `version`, `1st visit` -> `f_1st_visit`)."""
    if is_safe(name):
        return name
    s = re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_") or "f"
    if not s[0].isalpha():
        s = "f_" + s
    s = s[:MAX_LEN]
    if s.lower() in RESERVED:
        s += "_"
    return s


def storage_names(items: Iterable[tuple[str, list[str]]]) -> list[str]:
    """Storage names for (name, enclosing group names) pairs, in form order, unique case-insensitively.

    Safe names are kept first (the first of case-insensitive twins keeps its name), so a mapped name can
    never take a safe one's column; the others are mapped, then prefixed with their nearest group
    (`spouse/age` -> `spouse_age`), then numbered (`age_2`).
    """
    items = list(items)
    out: list[str | None] = [None] * len(items)
    taken: set[str] = set()
    for i, (name, _groups) in enumerate(items):
        if is_safe(name) and name.lower() not in taken:
            out[i] = name
            taken.add(name.lower())
    for i, (name, groups) in enumerate(items):
        if out[i] is not None:
            continue
        base = safe_ident(name)
        candidates = [base]
        for g in reversed(groups):
            candidates.append(safe_ident(f"{g}_{candidates[-1]}".lstrip("_")))
        chosen = next((c for c in candidates if c.lower() not in taken), None)
        n = 2
        while chosen is None:
            c = f"{base[:MAX_LEN - 4]}_{n}"
            if c.lower() not in taken:
                chosen = c
            n += 1
        out[i] = chosen
        taken.add(chosen.lower())
    return [o for o in out if o is not None]


def table_ident(form_id: str) -> str:
    """A form id as (part of) a table name: itself when safe, else mapped (`field-list` -> `field_list`,
    `Flat test` -> `flat_test`). Lower case when mapped, as PostgreSQL would fold it anyway."""
    return form_id if is_safe(form_id) else safe_ident(form_id).lower()
