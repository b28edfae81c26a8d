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
            parent_level = spec["level"] - 1
            given_parent = given_parent.strip().upper()
            parent = resolver.resolve(iso3 or "", given_parent, parent_level).code if parent_level else given_parent
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
    resolver: PcodeResolver = ctx.extra["resolver"]
    t, eng = ctx.table, ctx.eng
    country = cfg["country"]
    cc = q(country)
    iso3 = f"upper(trim(s.{cc}))"
    specs = _specs(cfg)
    # The provider's codes are written here, not read from the file: not a field the file failed to carry.
    ctx.extra.get("absent", set()).difference_update(s["provider"] for s in specs if s["provider"])
    level_field = q(cfg["level_field"])

    def name_at_own_level(row: str, spec: dict) -> str:
        """A provider's name is checked only on rows of its own level (as OCHA's HAPI does)."""
        if not spec["name"]:
            return "NULL::VARCHAR"
        return f"CASE WHEN {row}.{level_field} = '{spec['level']}' THEN {row}.{q(spec['name'])} END"

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
        [f"CASE WHEN s.{q(cfg['level_field'])} = '{s['level']}' THEN {s['resolved']} END" for _, s in hier]
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
