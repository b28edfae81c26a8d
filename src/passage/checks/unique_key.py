"""Each record's key appears once in the input and, unless updating, not yet in the store."""

from __future__ import annotations

from passage.checks import Context, flag, q

TYPED_KEY = {
    "integer": "CAST(TRY_CAST({c} AS BIGINT) AS VARCHAR)",
    "date": "CAST(TRY_CAST({c} AS DATE) AS VARCHAR)",
}


def key_parts(ctx: Context) -> list[str]:
    """The key fields, typed as text (so `07` and `7` are one round)."""
    types = {f.name: f.type for f in ctx.form.fields}
    return [f"coalesce({TYPED_KEY.get(types.get(k, ''), '{c}').format(c=q(k))}, '')" for k in ctx.config.get("key", [])]


def key_sql(ctx: Context) -> str | None:
    """The record id: the key fields joined with `|`."""
    parts = key_parts(ctx)
    return "concat_ws('|', " + ", ".join(parts) + ")" if parts else None


def run(ctx: Context) -> None:
    key = key_sql(ctx)
    if key is None:
        return
    eng, src = ctx.eng, ctx.table
    view = f"{src}_keyed"
    eng.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT *, {key} AS _key FROM {src}")
    ctx.extra.setdefault("temp_views", []).append(view)
    ctx.table = view
    dups = f"{view}_dups"
    # Group by a 64-bit hash of the parts (cheap even with ten million distinct keys), then compare the
    # full keys of the few rows whose hashes repeat, so a hash collision is never taken for a duplicate.
    parts = key_parts(ctx)
    hashed = f"hash({', '.join(parts)})"
    eng.execute(f"CREATE OR REPLACE TEMP TABLE {dups} AS SELECT {key} AS _key, min(_row) AS first_row FROM {src} "
                f"WHERE {hashed} IN (SELECT h FROM (SELECT {hashed} AS h FROM {src}) AS x GROUP BY h "
                f"HAVING count(*) > 1) GROUP BY _key HAVING count(*) > 1")
    ctx.extra.setdefault("temp_tables", []).append(dups)
    if eng.execute(f"SELECT count(*) FROM {dups}").fetchall()[0][0]:
        flag(ctx, "duplicate-key",
             f"EXISTS (SELECT 1 FROM {dups} d WHERE d._key = {view}._key AND d.first_row <> {view}._row)",
             "another row of the input has the same key (" + ", ".join(ctx.config["key"]) + ")",
             value=f"(SELECT 'same key as row ' || d.first_row FROM {dups} d WHERE d._key = {view}._key)")
    store_duplicates(ctx)


def store_duplicates(ctx: Context) -> int:
    """Rows whose key is a current record of the store (`duplicate-key-store`), unless updating; needs
    `run` first. The import pipeline runs it again once it holds the form's load lock when another change
    was committed since, and for an editor only once every row is known to lie in their places."""
    if not ctx.store_keys or ctx.extra.get("update") or key_sql(ctx) is None:
        return 0
    if not ctx.eng.execute(f"SELECT EXISTS (SELECT 1 FROM {ctx.store_keys} AS k)").fetchall()[0][0]:
        return 0
    return flag(ctx, "duplicate-key-store", f"_key IN (SELECT _record_id FROM {ctx.store_keys} AS k)",
                "a record with this key is already in the store (use --update to make a new version)", value="_key")
