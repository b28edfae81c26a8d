"""Place codes: normalised to the COD, at the right level, under the right parent.

Resolution runs in Python over the distinct (country, code, name, parent) tuples — a
few thousand even in a file of ten million rows — into small mapping tables. The
staging table is never rewritten: a view joins the mappings to give each row its
normalised codes, the provider's code beside each changed one, its place and its
warnings; later checks and the load read that view.
"""

from __future__ import annotations

import unicodedata

import pyarrow as pa

from passage.checks import KEPT_PER_CHECK, Batch, Context, flag, q
from passage.findings import WARNING, Finding
from passage.places.bundled import HOW_TO_LOAD
from passage.places.pcodes import PcodeResolver

MAP_COLUMNS = {"iso3": pa.string(), "given": pa.string(), "given_name": pa.string(), "given_parent": pa.string(),
               "code": pa.string(), "status": pa.string(), "warning": pa.string(), "renamed": pa.bool_(),
               "hint": pa.string()}
MAX_HINT_DISTANCE = 3  # edits between an unknown code and the known one suggested for it


def _specs(cfg: dict) -> list[dict]:
    """One entry per code column: its level, its name column, its parent column, where to keep the provider's code."""
    specs, parent = [], cfg["country"]
    for level, s in sorted(cfg.get("levels", {}).items()):
        specs.append({"level": int(level), "code": s["code"], "name": s.get("name"), "provider": s.get("provider"),
                      "parent": parent, "hierarchy": True})
        parent = s["code"]
    for s in cfg.get("optional", []):
        specs.append({"level": int(s["level"]), "code": s["code"], "name": None, "provider": s.get("provider"),
                      "parent": None, "hierarchy": False})
    return specs


def _plain(name: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKD", name).lower() if ch.isalnum())


def _resolve_rows(resolver: PcodeResolver, spec: dict, distinct: list[tuple]) -> list[tuple]:
    rows = []
    for iso3, given, given_name, given_parent in distinct:
        r = resolver.resolve(iso3 or "", given, spec["level"])
        if r.code is None:
            status = "unknown"
        elif r.level != spec["level"]:
            status = "wrong-level"
        else:
            status = "ok"
        warnings = [r.warning] if r.warning and status == "ok" else []
        if status == "ok" and given_parent is not None:
            # The row keeps the parent as given: the rows are matched to it by that text (`ng008` as well as NG008).
            parent_level = spec["level"] - 1
            written = given_parent.strip().upper()
            parent = resolver.resolve(iso3 or "", written, parent_level).code if parent_level else written
            if parent is not None and resolver.parent_of(r.code) != parent:
                status = "parent-mismatch"
        if status == "ok" and given_name and not r.warning and _plain(given_name) != _plain(resolver.places[r.code].name):
            # As OCHA's HAPI: the name is checked where the code was given as the COD has it, and it is a
            # mismatch when the name stands for another place (exact, then fuzzy match). A name equal to
            # the COD's (but for case and accents) cannot, and skips the costly fuzzy matching.
            named = resolver.match_name(iso3 or "", given_name, spec["level"], resolver.parent_of(r.code))
            if named and named != r.code:
                warnings.append(f"PCode mismatch {r.code} != {given_name}")
        rows.append((iso3, given, given_name, given_parent, r.code if status == "ok" else None, status,
                     "|".join(warnings) or None, bool(r.warning) and status == "ok", None))
    return rows


def _hints(eng, unknown: list[tuple[str, str]], level: int) -> dict[tuple[str, str], str]:
    """The nearest known code (and its name) of the same country and level for each distinct unknown code,
    by edit distance, in SQL: "NG008 Borno" for NG08. None beyond MAX_HINT_DISTANCE edits."""
    if not unknown:
        return {}
    bad = pa.table({"iso3": pa.array([u[0] for u in unknown], pa.string()),
                    "given": pa.array([u[1] for u in unknown], pa.string())})
    eng.register("_pcode_unknown", bad)
    try:
        found = eng.execute(
            "SELECT iso3, given, code || ' ' || name FROM (SELECT b.iso3, b.given, p.code, p.name, "
            "levenshtein(upper(trim(b.given)), p.code) AS d, row_number() OVER (PARTITION BY b.iso3, b.given "
            "ORDER BY levenshtein(upper(trim(b.given)), p.code), p.code) AS k FROM _pcode_unknown b "
            "JOIN places p ON p.country_code = b.iso3 AND p.level = ?) AS n "
            "WHERE k = 1 AND d <= ? AND d < length(given)", [level, MAX_HINT_DISTANCE]).fetchall()
    finally:
        eng.unregister("_pcode_unknown")
    return {(iso3, given): hint for iso3, given, hint in found}


def _flag_unknown(ctx: Context, m: str, on: str, code: str, text: str, column: str) -> None:
    """pcode-unknown on every row of an unknown code, each with the suggestion for its code."""
    t = ctx.table
    join = f"FROM {t} JOIN {m} ON {on} AND {m}.status = 'unknown'"
    rows = sorted(ctx.eng.execute(f"SELECT {t}._file, {t}._sheet, {t}._row, CAST({t}.{code} AS VARCHAR), {m}.hint "
                                  f"{join} LIMIT {KEPT_PER_CHECK}").fetchall(),
                  key=lambda r: (r[0] or "", r[1] or "", r[2] or 0))
    for file, sheet, row, value, hint in rows:
        ctx.report.add(Finding("pcode-unknown", f"{text}; did you mean {hint}?" if hint else text, file=file,
                               sheet=sheet, row=row, column=column, value=value))
    total = len(rows) if len(rows) < KEPT_PER_CHECK else ctx.eng.execute(f"SELECT count(*) {join}").fetchall()[0][0]
    ctx.report.count("pcode-unknown", ctx.report.counts.get("pcode-unknown", 0) - len(rows) + total)


def run(ctx: Context) -> None:
    cfg = ctx.config.get("places")
    if not cfg:
        return
    if "codes" in cfg:
        run_codes(ctx, cfg)
        return
    resolver: PcodeResolver = ctx.extra["resolver"]
    t, eng = ctx.table, ctx.eng
    country = cfg["country"]
    cc = q(country)
    iso3 = f"upper(trim(s.{cc}))"
    specs = _specs(cfg)
    # The provider's codes are written here, not read from the file: not a field the file failed to carry.
    ctx.extra.get("absent", set()).difference_update(s["provider"] for s in specs if s["provider"])
    level_field = q(cfg["level_field"])

    def at_level(row: str, level: int) -> str:
        """The row is of this admin level: compared as a number (`02` and `+2` are level 2, as the type check says)."""
        return f"TRY_CAST({row}.{level_field} AS BIGINT) = {int(level)}"

    def name_at_own_level(row: str, spec: dict) -> str:
        """A provider's name is checked only on rows of its own level (as OCHA's HAPI does)."""
        if not spec["name"]:
            return "NULL::VARCHAR"
        return f"CASE WHEN {at_level(row, spec['level'])} THEN {row}.{q(spec['name'])} END"

    def parent_of(row: str, spec: dict) -> str:
        return f"{row}.{q(spec['parent'])}" if spec["parent"] else "NULL::VARCHAR"

    # One scan for every code column's distinct (code, name, parent) tuples.
    exprs = [iso3] + [e for spec in specs for e in (f"s.{q(spec['code'])}", name_at_own_level("s", spec),
                                                    parent_of("s", spec))]
    if not eng.execute("SELECT EXISTS (SELECT 1 FROM places)").fetchall()[0][0]:
        # Said once: every row would otherwise say its country is unknown.
        ctx.report.add(Finding("places-missing", f"the store holds no places, so no {country} or P-code can be "
                               f"checked: load OCHA's P-codes with `{HOW_TO_LOAD}`", column=country))
        return
    combos = eng.execute(f"SELECT DISTINCT {', '.join(exprs)} FROM {t} s").fetchall()
    countries = {c[0] for c in combos}
    with_codes = {(p.country, p.level) for p in resolver.places.values()}
    known = {c for c in countries if c and resolver.level_of(c) == 0}
    if countries - known:
        flag(ctx, "pcode-unknown", f"{cc} IS NOT NULL AND upper(trim({cc})) NOT IN "
             f"(SELECT code FROM places WHERE level = 0)",
             f"{country} is not an ISO 3166 alpha-3 country code", column=country, value=cc)
    joins, replace, extra, warnings = [], [], [], []
    for i, spec in enumerate(specs):
        code = q(spec["code"])
        distinct = sorted({(c[0], *c[1 + 3 * i: 4 + 3 * i]) for c in combos if c[1 + 3 * i] is not None},
                          key=lambda r: tuple("" if v is None else v for v in r))
        rows = _resolve_rows(resolver, spec, distinct)
        # A known country without P-codes at this level is said once, not as an unknown code on each row.
        bare = sorted({r[0] for r in rows if r[5] == "unknown" and r[0] in known
                       and (r[0], spec["level"]) not in with_codes})
        for iso in bare:
            ctx.report.add(Finding("places-missing", f"the store has no admin{spec['level']} P-codes of {iso}, so "
                                   f"{spec['code']} cannot be checked: load them with `passage places import FILE` "
                                   "(OCHA's global P-codes or the country's COD)", column=spec["code"], value=iso))
        rows = [(*r[:5], "no-places", *r[6:]) if r[5] == "unknown" and r[0] in bare else r for r in rows]
        hints = _hints(eng, sorted({(r[0], r[1]) for r in rows if r[5] == "unknown" and r[0]}), spec["level"])
        rows = [(*r[:8], hints.get((r[0], r[1]))) for r in rows]
        m = f"{t}_pc{i}"
        arrow = pa.table({c: pa.array([r[j] for r in rows], type=ty) for j, (c, ty) in enumerate(MAP_COLUMNS.items())})
        eng.register(m + "_a", arrow)
        eng.execute(f"CREATE OR REPLACE TEMP TABLE {m} AS SELECT * FROM {m}_a")
        eng.unregister(m + "_a")
        ctx.extra.setdefault("temp_tables", []).append(m)
        def on(row: str) -> str:
            col = lambda c: f"{row}.{q(c)}" if c else "NULL::VARCHAR"
            return (f"{m}.iso3 IS NOT DISTINCT FROM upper(trim({col(country)})) AND {m}.given = {col(spec['code'])} "
                    f"AND {m}.given_name IS NOT DISTINCT FROM {name_at_own_level(row, spec)} "
                    f"AND {m}.given_parent IS NOT DISTINCT FROM {col(spec['parent'])}")
        statuses = {r[5] for r in rows}
        if "unknown" in statuses:
            _flag_unknown(ctx, m, on(t), code, f"{spec['code']} is not a P-code of this country", spec["code"])
        for status, code_name, text in [
            ("wrong-level", "pcode-wrong-level", f"{spec['code']} is a P-code of another admin level "
                                                 f"(expected admin{spec['level']})"),
            ("parent-mismatch", "pcode-parent-mismatch", f"{spec['code']} does not lie in the {spec['parent']} "
                                                         "given on the same row"),
        ]:
            if status in statuses:
                flag(ctx, code_name, f"EXISTS (SELECT 1 FROM {m} WHERE {on(t)} AND {m}.status = '{status}')",
                     text, column=spec["code"], value=code)
        # Most files give COD codes as they are: only join a mapping that changes something.
        if any(r[4] != r[1] or r[6] for r in rows):
            joins.append(f"LEFT JOIN {m} ON {on('s')}")
            replace.append(f"coalesce({m}.code, s.{code}) AS {code}")
            renamed = f"CASE WHEN {m}.renamed THEN s.{code} END"
            warnings.append(f"{m}.warning")
            resolved = f"{m}.code"
        else:
            renamed, resolved = "NULL::VARCHAR", f"s.{code}"
        if spec["provider"]:
            extra.append(f"{renamed} AS {q(spec['provider'])}")
        spec["resolved"] = resolved
    if not ctx.report.ok:
        return
    present = ctx.columns()
    drop = [q(s["provider"]) for s in specs if s["provider"] and s["provider"] in present]
    hier = [(i, s) for i, s in enumerate(specs) if s["hierarchy"]]
    place = "coalesce(" + ", ".join(
        [f"CASE WHEN {at_level('s', s['level'])} THEN {s['resolved']} END" for _, s in hier]
        + [iso3]) + ")"
    view = f"{t}_places"
    eng.execute(
        f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT s.* {'EXCLUDE (' + ', '.join(drop) + ') ' if drop else ''}"
        f"REPLACE ({', '.join([*replace, f'{iso3} AS {cc}'])}), {', '.join(extra) + ', ' if extra else ''}"
        f"{place} AS _place_code, "
        + (f"nullif(concat_ws('|', {', '.join(warnings)}), '')" if warnings else "NULL::VARCHAR") + " AS _warnings "
        f"FROM {t} s {' '.join(joins)}"
    )
    ctx.extra.setdefault("temp_views", []).append(view)
    ctx.table = view
    batch = Batch(ctx)
    for spec in specs:
        if spec["provider"]:
            batch.add("pcode-length", f"{q(spec['provider'])} IS NOT NULL",
                      f"{spec['code']} normalised to the COD length", column=spec["code"],
                      value=q(spec["provider"]) + " || ' -> ' || " + q(spec["code"]), severity=WARNING)
    batch.add("pcode-name-mismatch", "contains(_warnings, 'PCode mismatch')", "a name differs from its P-code's name",
              value="_warnings", severity=WARNING)
    batch.run()


def _country_of(code: str) -> str | None:
    """The ISO3 country a P-code's prefix names (`NG008` -> NGA, `TCD07` -> TCD), for suggestions."""
    import pycountry

    prefix = "".join(ch for ch in code[:3] if ch.isalpha())
    found = pycountry.countries.get(alpha_2=prefix) if len(prefix) == 2 else \
        pycountry.countries.get(alpha_3=prefix) if len(prefix) == 3 else None
    return found.alpha_3 if found else None


def run_codes(ctx: Context, cfg: dict) -> None:
    """Records of a user's form (passage.forms.datasets.link_places): each place field holds a P-code (or, at
    level 0, an ISO3 code), checked against the place table at its field's level (any level for a
    `passage_place` field); the record's `_place_code` is the most specific code given, its country (`cfg`'s
    `country` column) that place's country, and codes given at two levels must lie one in the other."""
    resolver: PcodeResolver = ctx.extra["resolver"]
    t, eng = ctx.table, ctx.eng
    country = cfg["country"]
    ctx.extra.get("absent", set()).discard(country)  # written here, not read from the file
    specs = cfg["codes"]
    if not eng.execute("SELECT EXISTS (SELECT 1 FROM places)").fetchall()[0][0]:
        ctx.report.add(Finding("places-missing", "the store holds no places, so no P-code can be checked: load "
                               f"OCHA's P-codes with `{HOW_TO_LOAD}`", column=specs[0]["field"]))
        return
    cols = {"given": pa.string(), "code": pa.string(), "level": pa.int64(), "iso3": pa.string(),
            "status": pa.string(), "warning": pa.string(), "hint": pa.string(),
            **{f"a{k}": pa.string() for k in range(4)}}
    joins, codes, countries, warnings = [], [], [], []
    for i, spec in enumerate(specs):
        field, level = q(spec["field"]), spec["level"]
        given = eng.execute(f"SELECT DISTINCT upper(trim({field})) FROM {t} WHERE nullif(trim({field}), '') "
                            "IS NOT NULL").fetchall()
        rows = []
        for (code,) in sorted(given):
            place, warning = resolver.places.get(code), None
            if place is None and level and _country_of(code):
                r = resolver.resolve(_country_of(code) or "", code, level)  # TD0704 -> TCD0704
                place, warning = (resolver.places[r.code], r.warning) if r.code else (None, None)
                resolved = r.code
            else:
                resolved = code if place is not None else None
            status = "unknown" if place is None else "wrong-level" if level is not None and place.level != level \
                else "ok"
            chain, c = {}, resolved if status == "ok" else None
            while c is not None and c in resolver.places:
                chain[resolver.places[c].level] = c
                c = resolver.places[c].parent
            rows.append({"given": code, "code": resolved if status == "ok" else None,
                         "level": place.level if place is not None else None,
                         "iso3": place.country if place is not None and status == "ok" else None,
                         "status": status, "warning": warning, "hint": None,
                         **{f"a{k}": chain.get(k) for k in range(4)}})
        unknown = sorted({(_country_of(r["given"]) or "", r["given"]) for r in rows
                          if r["status"] == "unknown" and _country_of(r["given"])})
        for lv in [level] if level else [3, 2, 1]:  # any level: the suggestion nearest in length wins
            hints = _hints(eng, unknown, lv) if unknown else {}
            for r in rows:
                hint = hints.get((_country_of(r["given"]) or "", r["given"]))
                if hint and (r["hint"] is None or abs(len(hint.split()[0]) - len(r["given"])) <
                             abs(len(r["hint"].split()[0]) - len(r["given"]))):
                    r["hint"] = hint
        m = f"{t}_uc{i}"
        eng.register(m + "_a", pa.table({c: pa.array([r[c] for r in rows], type=ty) for c, ty in cols.items()}))
        eng.execute(f"CREATE OR REPLACE TEMP TABLE {m} AS SELECT * FROM {m}_a")
        eng.unregister(m + "_a")
        ctx.extra.setdefault("temp_tables", []).append(m)
        spec["map"] = m
        on = f"{m}.given = upper(trim({t}.{field}))"
        what = f"admin{level} " if level else ""
        if any(r["status"] == "unknown" for r in rows):
            _flag_unknown(ctx, m, on, field, f"{spec['field']} is not a {what}P-code in the place table",
                          spec["field"])
        if any(r["status"] == "wrong-level" for r in rows):
            flag(ctx, "pcode-wrong-level", f"EXISTS (SELECT 1 FROM {m} WHERE {on} AND {m}.status = 'wrong-level')",
                 f"{spec['field']} is a P-code of another admin level (expected admin{level})",
                 column=spec["field"], value=field)
        joins.append(f"LEFT JOIN {m} ON {m}.given = upper(trim(s.{field}))")
        codes.append(f"{m}.code")
        countries.append(f"{m}.iso3")
        warnings.append(f"{m}.warning")
    for hi in specs:  # codes at two levels: the finer one lies in the coarser one
        for lo in specs:
            if hi["level"] is not None and lo["level"] is not None and lo["level"] < hi["level"]:
                a, b = hi["map"], lo["map"]
                flag(ctx, "pcode-parent-mismatch",
                     f"EXISTS (SELECT 1 FROM {a}, {b} WHERE {a}.given = upper(trim({t}.{q(hi['field'])})) AND "
                     f"{b}.given = upper(trim({t}.{q(lo['field'])})) AND {a}.code IS NOT NULL AND {b}.code IS NOT "
                     f"NULL AND {a}.a{lo['level']} IS DISTINCT FROM {b}.code)",
                     f"{hi['field']} does not lie in the {lo['field']} given on the same row",
                     column=hi["field"], value=q(hi["field"]))
    if not ctx.report.ok:
        return
    replace = [f"coalesce({s['map']}.code, s.{q(s['field'])}) AS {q(s['field'])}" for s in specs]
    view = f"{t}_places"
    eng.execute(
        f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT s.* REPLACE ({', '.join(replace)}, "
        f"coalesce({', '.join(countries)}) AS {q(country)}), coalesce({', '.join(codes)}) AS _place_code, "
        f"nullif(concat_ws('|', {', '.join(warnings)}), '') AS _warnings FROM {t} s {' '.join(joins)}")
    ctx.extra.setdefault("temp_views", []).append(view)
    ctx.table = view
    Batch(ctx).run()
