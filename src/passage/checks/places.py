"""Place codes: normalised to the COD, at the right level, under the right parent.

Resolution runs in Python over the distinct codes (a few thousand even in a file of
ten million rows), then one join writes the normalised codes back into the staging
table, keeping the provider's code beside each changed one and the warnings per row.
"""

from __future__ import annotations

import pyarrow as pa

from passage.checks import Context, flag, q
from passage.findings import WARNING
from passage.places.pcodes import PcodeResolver, normalise_name


def run(ctx: Context) -> None:
    cfg = ctx.config.get("places")
    if not cfg:
        return
    resolver: PcodeResolver = ctx.extra["resolver"]
    t = ctx.table
    country = cfg["country"]
    cc = q(country)
    flag(ctx, "pcode-unknown", f"{cc} IS NOT NULL AND upper(trim({cc})) NOT IN (SELECT code FROM places WHERE level = 0)",
         f"{country} is not an ISO 3166 alpha-3 country code", column=country, value=cc)
    specs = [(int(level), s["code"], s.get("name"), s.get("provider")) for level, s in sorted(cfg.get("levels", {}).items())]
    specs += [(int(s["level"]), s["code"], None, s.get("provider")) for s in cfg.get("optional", [])]
    present = ctx.columns()
    for _, code, _, provider in specs:
        if provider and provider not in present:
            ctx.eng.execute(f"ALTER TABLE {t} ADD COLUMN {q(provider)} VARCHAR")
    # 1. resolve each distinct (country, code, name) once
    maps = []
    for i, (level, code, name, _) in enumerate(specs):
        name_sql = q(name) if name else "NULL"
        distinct = ctx.eng.execute(
            f"SELECT DISTINCT upper(trim({cc})), {q(code)}, {name_sql} FROM {t} WHERE {q(code)} IS NOT NULL"
        ).fetchall()
        rows = []
        for iso3, given, given_name in distinct:
            r = resolver.resolve(iso3 or "", given, level)
            status = "ok" if r.code and r.level == level else ("wrong-level" if r.code else "unknown")
            warnings = [r.warning] if r.warning and status == "ok" else []
            cod_name = resolver.name_of(r.code) if r.code else None
            if status == "ok" and given_name and cod_name and normalise_name(given_name) != normalise_name(cod_name):
                warnings.append(f"PCode mismatch {r.code} != {given_name}")
            rows.append((iso3, given, given_name, r.code if status == "ok" else None, status,
                         "|".join(warnings) or None, resolver.parent_of(r.code) if r.code else None,
                         bool(r.warning) and status == "ok", r.level))
        cols = ["iso3", "given", "given_name", "code", "status", "warning", "parent", "renamed", "found_level"]
        arrow = pa.table({c: pa.array([row[j] for row in rows], type=pa.int64() if c == "found_level" else (
            pa.bool_() if c == "renamed" else pa.string())) for j, c in enumerate(cols)})
        mname = f"{t}_pc{i}"
        ctx.eng.register(mname + "_a", arrow)
        ctx.eng.execute(f"CREATE OR REPLACE TEMP TABLE {mname} AS SELECT * FROM {mname}_a")
        ctx.eng.unregister(mname + "_a")
        maps.append(mname)
    # 2. errors, located on the rows that carry them
    for (level, code, name, _), m in zip(specs, maps):
        c = q(code)
        name_join = f"m.given_name IS NOT DISTINCT FROM {t}.{q(name)}" if name else "true"
        on = f"m.iso3 IS NOT DISTINCT FROM upper(trim({t}.{cc})) AND m.given = {t}.{c} AND {name_join}"
        flag(ctx, "pcode-unknown", f"{c} IS NOT NULL AND EXISTS (SELECT 1 FROM {m} m WHERE {on} AND m.status = 'unknown')",
             f"{code} is not a P-code of this country", column=code, value=c)
        flag(ctx, "pcode-wrong-level",
             f"{c} IS NOT NULL AND EXISTS (SELECT 1 FROM {m} m WHERE {on} AND m.status = 'wrong-level')",
             f"{code} is a P-code of another admin level (expected admin{level})", column=code, value=c)
    if not ctx.report.ok:
        return
    # 3. write the normalised codes back, keep the provider's, gather warnings, set the place
    joins, replace, provider_sets, warnings = [], [], [], []
    for i, ((level, code, name, provider), m) in enumerate(zip(specs, maps)):
        a = f"m{i}"
        name_join = f"{a}.given_name IS NOT DISTINCT FROM s.{q(name)}" if name else "true"
        joins.append(f"LEFT JOIN {m} {a} ON {a}.iso3 IS NOT DISTINCT FROM upper(trim(s.{cc})) "
                     f"AND {a}.given = s.{q(code)} AND {name_join}")
        replace.append(f"coalesce({a}.code, s.{q(code)}) AS {q(code)}")
        if provider:
            replace.append(f"CASE WHEN {a}.renamed THEN s.{q(code)} ELSE s.{q(provider)} END AS {q(provider)}")
        warnings.append(f"{a}.warning")
    place = "coalesce(" + ", ".join(
        [f"CASE WHEN s.{q(cfg['level_field'])} = '{lv}' THEN coalesce(m{i}.code, s.{q(code)}) END"
         for i, (lv, code, name, _) in enumerate(specs) if name is not None]
        + [f"upper(trim(s.{cc}))"]) + ")"
    ctx.eng.execute(
        f"CREATE OR REPLACE TEMP TABLE {t} AS SELECT s.* REPLACE ({', '.join(replace)}, upper(trim(s.{cc})) AS {cc}), "
        f"{place} AS _place_code, nullif(concat_ws('|', {', '.join(warnings)}), '') AS _warnings "
        f"FROM {t} s {' '.join(joins)}"
    )
    # 4. parents agree: admin1 under the country, admin2 under admin1
    chain = [(0, country)] + [(lv, code) for lv, code, name, _ in specs if name is not None]
    for (plevel, pcode), (level, code) in zip(chain, chain[1:]):
        flag(ctx, "pcode-parent-mismatch",
             f"{q(code)} IS NOT NULL AND {q(pcode)} IS NOT NULL AND "
             f"(SELECT p.parent_code FROM places p WHERE p.code = {t}.{q(code)}) IS DISTINCT FROM {t}.{q(pcode)}",
             f"{code} does not lie in the {pcode} given on the same row", column=code, value=q(code))
    # 5. warnings travel with the rows; the report shows the first ones
    for i, ((level, code, _, _), m) in enumerate(zip(specs, maps)):
        flag(ctx, "pcode-length", f"EXISTS (SELECT 1 FROM {m} m WHERE m.renamed AND m.code = {t}.{q(code)} "
             f"AND m.iso3 = {t}.{cc})", f"{code} normalised to the COD length", column=code,
             value=q(code), severity=WARNING)
    flag(ctx, "pcode-name-mismatch", "_warnings LIKE '%PCode mismatch%'", "a name differs from its P-code's name",
         value="_warnings", severity=WARNING)
