"""Each record's key appears once in the input and, unless updating, not yet in the store."""

from __future__ import annotations

from passage.checks import Context, flag, q

TYPED_KEY = {
    "integer": "CAST(TRY_CAST({c} AS BIGINT) AS VARCHAR)",
    "date": "CAST(TRY_CAST({c} AS DATE) AS VARCHAR)",
}


def key_sql(ctx: Context) -> str | None:
    key = ctx.config.get("key")
    if not key:
        return None
    types = {f.name: f.type for f in ctx.form.fields}
    parts = [f"coalesce({TYPED_KEY.get(types.get(k, ''), '{c}').format(c=q(k))}, '')" for k in key]
    return "concat_ws('|', " + ", ".join(parts) + ")"


def run(ctx: Context) -> None:
    t = ctx.table
    key = key_sql(ctx)
    if key is None:
        ctx.eng.execute(f"ALTER TABLE {t} ADD COLUMN IF NOT EXISTS _key VARCHAR")
        return
    ctx.eng.execute(f"CREATE OR REPLACE TEMP TABLE {t} AS SELECT *, {key} AS _key FROM {t}")
    dups = ctx.eng.execute(
        f"CREATE OR REPLACE TEMP TABLE {t}_dups AS SELECT _key, min(_row) AS first_row FROM {t} "
        f"GROUP BY _key HAVING count(*) > 1"
    )
    if ctx.eng.execute(f"SELECT count(*) FROM {t}_dups").fetchone()[0]:
        flag(ctx, "duplicate-key",
             f"EXISTS (SELECT 1 FROM {t}_dups d WHERE d._key = {t}._key AND d.first_row <> {t}._row)",
             "another row of the input has the same key (" + ", ".join(ctx.config["key"]) + ")",
             value=f"(SELECT 'same key as row ' || d.first_row FROM {t}_dups d WHERE d._key = {t}._key)")
    ctx.eng.execute(f"DROP TABLE {t}_dups")
    if ctx.store_keys and not ctx.extra.get("update"):
        flag(ctx, "duplicate-key-store", f"_key IN (SELECT _record_id FROM {ctx.store_keys})",
             "a record with this key is already in the store (use --update to make a new version)", value="_key")
