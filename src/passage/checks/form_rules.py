"""What the XLSForm itself says: types, required, choices, constraints, relevance."""

from __future__ import annotations

from passage.checks import Batch, Context, q
from passage.findings import Finding
from passage.forms.expr import ExpressionError, Options, to_sql

MAX_CELL_CHARS = 10_000

TYPE_TESTS = {
    "integer": ("type-integer", "NOT regexp_full_match({c}, '\\s*[-+]?[0-9]+\\s*') OR TRY_CAST({c} AS BIGINT) IS NULL",
                "must be a whole number"),
    "decimal": ("type-decimal", "TRY_CAST({c} AS DOUBLE) IS NULL", "must be a number"),
    "range": ("type-decimal", "TRY_CAST({c} AS DOUBLE) IS NULL", "must be a number"),
    "date": ("type-date", "TRY_CAST({c} AS DATE) IS NULL", "must be a date (YYYY-MM-DD)"),
    "dateTime": ("type-datetime", "TRY_CAST({c} AS TIMESTAMPTZ) IS NULL", "must be a date and time"),
}


def _literal_list(values: list[str]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def options(form, **extra) -> Options:
    """How the form's expressions name its fields: XLSForm names and paths -> storage columns."""
    return Options(names=form.by_xlsform_name(), paths={f.name: f.path for f in form.fields}, **extra)


def _compile(ctx: Context, expression: str, field_name: str, kind: str, types: dict[str, str],
             opts: Options | None = None) -> str | None:
    try:
        return to_sql(expression, types, self_field=field_name, options=opts)
    except ExpressionError as exc:
        ctx.report.add(Finding("expression-invalid", f"{kind} of {field_name!r}: {exc.message} at {exc.position}",
                               column=field_name, value=expression))
        return None


def run(ctx: Context, batch: Batch | None = None) -> None:
    """Add the form's rules to `batch` (run by the caller), or run them at once when no batch is given."""
    present = ctx.columns()
    fields = [f for f in ctx.form.fields if f.name in present and f.type != "calculate"]
    types = {f.name: f.type for f in ctx.form.fields}
    opts = options(ctx.form)
    own = batch is None
    batch = batch or Batch(ctx)
    flag = batch.add
    for f in fields:
        c = q(f.name)
        flag("cell-too-long", f"length({c}) > {MAX_CELL_CHARS}", f"{f.name} is longer than {MAX_CELL_CHARS} characters",
             column=f.name, value=f"left({c}, 40)")
        flag("encoding", f"contains({c}, chr(0))", f"{f.name} holds a NUL byte (a binary or mis-encoded file)",
             column=f.name)
        relevant = _compile(ctx, f.relevant, f.name, "relevance", types, opts) if f.relevant else None
        if f.required:
            cond = f"{c} IS NULL" + (f" AND coalesce(({relevant}), false)" if relevant else "")
            flag("required", cond, f"{f.name} is required", column=f.name)
        if relevant:
            flag("not-relevant", f"{c} IS NOT NULL AND NOT coalesce(({relevant}), false)",
                 f"{f.name} is given but does not apply here ({f.relevant})", column=f.name, value=c)
        test = TYPE_TESTS.get(f.type)
        bad_type = None
        if test:
            code, cond, text = test
            bad_type = cond.format(c=c)
            flag(code, f"{c} IS NOT NULL AND ({bad_type})", f"{f.name} {text}", column=f.name, value=c)
        if f.choices and f.type == "select_one":
            flag("choice-unknown", f"{c} IS NOT NULL AND NOT list_contains({_literal_list(f.choices)}, {c})",
                 f"{f.name} must be one of {', '.join(f.choices[:12])}", column=f.name, value=c)
        if f.choices and f.type == "select_multiple":
            flag("choice-unknown",
                 f"{c} IS NOT NULL AND len(list_filter(string_split(trim({c}), ' '), "
                 f"lambda v: v <> '' AND NOT list_contains({_literal_list(f.choices)}, v))) > 0",
                 f"{f.name} holds a value that is not one of its choices", column=f.name, value=c)
        if f.constraint:
            sql = _compile(ctx, f.constraint, f.name, "constraint", types, opts)
            if sql:
                guard = f" AND NOT ({bad_type})" if bad_type else ""
                flag("constraint", f"{c} IS NOT NULL{guard} AND NOT coalesce(({sql}), false)",
                     f.constraint_message or f"{f.name} breaks its constraint {f.constraint}", column=f.name, value=c)
    if own:
        batch.run()
