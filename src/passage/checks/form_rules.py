"""What the XLSForm itself says: types, required, choices (and their filters), ranges, constraints,
relevance and calculations. `review_form` says at install what of it cannot be checked."""

from __future__ import annotations

from typing import TYPE_CHECKING

from passage.checks import Batch, Context, q
from passage.findings import ERROR, WARNING, Finding
from passage.forms.expr import ExpressionError, Options, RepeatScope, to_sql, to_sql_bool, to_sql_typed

if TYPE_CHECKING:
    from passage.forms import Form

MAX_CELL_CHARS = 10_000

_NUM = "TRY_CAST({x} AS DOUBLE)"
# One point `lat lon [alt [acc]]`; {p} is its text.
_BAD_POINT = ("(len(string_split(trim({p}), ' ')) NOT BETWEEN 2 AND 4 "
              "OR len(list_filter(string_split(trim({p}), ' '), lambda n: TRY_CAST(n AS DOUBLE) IS NULL)) > 0 "
              "OR abs(TRY_CAST(string_split(trim({p}), ' ')[1] AS DOUBLE)) > 90 "
              "OR abs(TRY_CAST(string_split(trim({p}), ' ')[2] AS DOUBLE)) > 180)")
_SPACED = "regexp_replace(trim({c}), '\\s+', ' ', 'g')"
_POINTS = f"list_filter(string_split({_SPACED}, ';'), lambda s: trim(s) <> '')"
_TIME_RE = "([01]?[0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\\.[0-9]+)?)?(Z|[+-][0-9][0-9](:?[0-9][0-9])?)?"

TYPE_TESTS = {
    "integer": ("type-integer", "NOT regexp_full_match({c}, '\\s*[-+]?[0-9]+\\s*') OR TRY_CAST({c} AS BIGINT) IS NULL",
                "must be a whole number"),
    "decimal": ("type-decimal", "TRY_CAST({c} AS DOUBLE) IS NULL", "must be a number"),
    "range": ("type-decimal", "TRY_CAST({c} AS DOUBLE) IS NULL", "must be a number"),
    "date": ("type-date", "TRY_CAST({c} AS DATE) IS NULL", "must be a date (YYYY-MM-DD)"),
    "dateTime": ("type-datetime", "TRY_CAST({c} AS TIMESTAMPTZ) IS NULL", "must be a date and time"),
    "time": ("type-time", f"NOT regexp_full_match(trim({{c}}), '{_TIME_RE}')", "must be a time of day (HH:MM[:SS])"),
    "geopoint": ("type-geo", _BAD_POINT.format(p=_SPACED.format(c="{c}")),
                 "must be a point: latitude (-90..90) longitude (-180..180) [altitude [accuracy]]"),
    "geotrace": ("type-geo", f"len({_POINTS}) < 2 OR len(list_filter({_POINTS}, lambda pt: {_BAD_POINT.format(p='pt')})) > 0",
                 "must be two or more points `lat lon [alt [acc]]` separated by ;"),
    "geoshape": ("type-geo", f"len({_POINTS}) < 3 OR len(list_filter({_POINTS}, lambda pt: {_BAD_POINT.format(p='pt')})) > 0",
                 "must be three or more points `lat lon [alt [acc]]` separated by ;"),
}
TYPE_TESTS["int"] = TYPE_TESTS["integer"]  # the legacy spelling
TYPE_TESTS["datetime"] = TYPE_TESTS["dateTime"]

# Staging columns that hold when the answers were collected or submitted, best first: today() and now()
# in a rule mean that moment, not the import's.
SUBMISSION_TIME = ("end", "_submission_time", "SubmissionDate")


def _literal_list(values: list[str]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def _lit(v: object) -> str:
    return "'" + str(v).replace("'", "''") + "'"


def options(form, **extra) -> Options:
    """How the form's expressions name its fields: XLSForm names and paths -> storage columns; the labels
    of choices that jr:choice-name reads."""
    labels = {f.name: {r["name"]: str(r.get("label") or "") for r in f.choice_rows}
              for f in form.fields if f.choice_rows}
    return Options(names=form.by_xlsform_name(), paths={f.name: f.path for f in form.fields},
                   choice_labels=labels, **extra)


def repeat_paths(form) -> dict[str, str]:
    """Each repeat's export path (`household/members`), from the form or its fields' paths."""
    out = {}
    for r in form.repeats:
        known = form.repeat_paths.get(r)
        if not known:
            name = form.repeat_xlsform_name(r)
            for f in form.repeat_fields(r):
                segs = f.path.split("/")
                if name in segs[:-1]:
                    known = "/".join(segs[: len(segs) - 1 - segs[:-1][::-1].index(name)])
                    break
        out[r] = known or ""
    return out


def parent_repeat(form, repeat: str) -> str | None:
    """The repeat that encloses this one (None: the main records)."""
    paths = repeat_paths(form)
    mine = paths.get(repeat, "")
    outer = [r for r, p in paths.items() if r != repeat and p and mine.startswith(p + "/")]
    return max(outer, key=lambda r: len(paths[r])) if outer else None


def repeat_scope(form, level: str | None, rows) -> RepeatScope:
    """What `sum(${age})`, `count(${members})` or `indexed-repeat(...)` read from the rows of a check at `level`
    (None: the main records): `rows(repeat)` gives the SQL of that repeat's rows of the current row (RepeatScope),
    and is asked only for a repeat directly inside `level` (its children) or `level` itself (its siblings)."""
    def reachable(repeat: str):
        if repeat != level and parent_repeat(form, repeat) != level:
            return None  # nested deeper, or in another branch: not read
        return rows(repeat)

    names = {**{form.repeat_xlsform_name(r): r for r in form.repeats}, **form.by_xlsform_name()}
    return RepeatScope(names=names, field_repeat={f.name: f.repeat for f in form.fields if f.repeat},
                       repeat_names={form.repeat_xlsform_name(r): r for r in form.repeats},
                       types={f.name: f.type for f in form.fields}, rows=reachable)


def now_sql(columns: set[str], form: Form | None = None) -> str:
    """The submission's own moment where the staging table has it, else the clock. The form's own `end`
    question is stored under its storage name (`end_`: END is an SQL keyword)."""
    stored = form.by_xlsform_name() if form is not None else {}
    have = [c for c in (stored.get(n, n) for n in SUBMISSION_TIME) if c in columns]
    parts = [f"CAST(TRY_CAST({q(c)} AS TIMESTAMPTZ) AS TIMESTAMP)" for c in have]
    return f"coalesce({', '.join(parts + ['CAST(current_timestamp AS TIMESTAMP)'])})"


def _compile(ctx: Context, expression: str, f, kind: str, types: dict[str, str],
             opts: Options | None = None, typed: bool = False, shown: str | None = None):
    shown = shown or f.xlsform_name
    try:
        if typed:
            return to_sql_typed(expression, types, self_field=f.name, options=opts)
        return to_sql_bool(expression, types, self_field=f.name, options=opts)
    except ExpressionError as exc:
        if exc.feature or kind == "calculation":  # said at install; the rule cannot be checked here
            ctx.report.add(Finding("expression-unsupported",
                                   f"{kind} of {shown!r} is not checked: {exc.message}",
                                   severity=WARNING, column=f.name, value=expression))
        else:
            ctx.report.add(Finding("expression-invalid",
                                   f"{kind} of {shown!r}: {exc.message} at {exc.position}",
                                   column=f.name, value=expression))
        return None


def _absent_required(ctx: Context, f, shown: str, relevant: str | None) -> None:
    """A required field the file has no column for: one finding, not `required` on every row. With --update
    each record keeps its stored value (a warning); otherwise, when some row needs it, the file lacks a column."""
    if ctx.extra.get("update"):
        ctx.report.add(Finding("column-missing", f"{shown} is required and the file has no column for it: "
                               "each record keeps its stored value", severity=WARNING, column=shown))
        return
    needed = ctx.eng.execute(f"SELECT count(*) FROM {ctx.table}"
                             + (f" WHERE coalesce(({relevant}), false)" if relevant else "")).fetchall()[0][0]
    if needed:
        ctx.report.add(Finding("column-missing", f"{shown} is required, and the file has no column for it "
                               f"({needed} row{'s' if needed != 1 else ''} need it)", severity=ERROR, column=shown))


def _range_rule(f, c: str) -> tuple[str, str] | None:
    """`range` parameters: start, end (either order) and step, ODK's defaults 1, 10, 1."""
    p = f.parameters or {}
    try:
        start, end, step = float(p.get("start", 1)), float(p.get("end", 10)), float(p.get("step", 1))
    except ValueError:
        return None
    low, high = min(start, end), max(start, end)
    v = _NUM.format(x=c)
    cond = f"{v} < {low!r} OR {v} > {high!r}"
    if step:
        cond += f" OR abs(({v} - {start!r}) / {abs(step)!r} - round(({v} - {start!r}) / {abs(step)!r})) > 1e-9"
    text = f"must be between {p.get('start', '1')} and {p.get('end', '10')} in steps of {p.get('step', '1')}"
    return cond, text


def _choice_filter(ctx: Context, f, c: str, types: dict[str, str], opts: Options, shown: str) -> str | None:
    """The condition that a value is NOT among the choices the field's choice_filter leaves for the row."""
    rows = f.choice_rows or []
    cols = sorted({k for r in rows for k in r})
    choice_opts = Options(**{**opts.__dict__, "choice_columns": {k: f"ch.{q(k)}" for k in cols}})
    cond = _compile(ctx, f.choice_filter, f, "choice_filter", types, choice_opts, shown=shown)
    if cond is None:
        return None
    structs = ", ".join("{" + ", ".join(f"{_lit(k)}: {_lit(r.get(k, ''))}" for k in cols) + "}" for r in rows)
    if f.type == "select_one":
        return (f"len(list_filter([{structs}], lambda ch: ch.{q('name')} = trim({c}) "
                f"AND coalesce(({cond}), false))) = 0")
    return (f"len(list_filter(string_split(trim({c}), ' '), lambda v: v <> '' AND "
            f"len(list_filter([{structs}], lambda ch: ch.{q('name')} = v AND coalesce(({cond}), false))) = 0)) > 0")


def _calculation(ctx: Context, f, c: str, types: dict[str, str], opts: Options,
                 shown: str) -> tuple[str, str] | None:
    """The condition that an exported calculated value differs from the form's calculation."""
    compiled = _compile(ctx, f.calculation, f, "calculation", types, opts, typed=True, shown=shown)
    if compiled is None:
        return None
    sql, kind = compiled
    if kind == "number":
        v = _NUM.format(x=c)
        return f"({sql}) IS NOT NULL AND {v} IS NOT NULL AND abs({v} - ({sql})) > 1e-6 * greatest(1, abs({sql}))", sql
    if kind == "date":
        return f"({sql}) IS NOT NULL AND TRY_CAST({c} AS DATE) <> ({sql})", sql
    if kind == "string":
        return f"({sql}) IS NOT NULL AND trim({c}) <> trim({sql})", sql
    return None  # booleans and moments: exports render them too variously to compare


def run(ctx: Context, batch: Batch | None = None) -> None:
    """Add the form's rules to `batch` (run by the caller), or run them at once when no batch is given."""
    present = ctx.columns()
    fields = [f for f in ctx.form.fields if f.name in present and f.type != "calculate"]
    types = {f.name: f.type for f in ctx.form.fields}
    scope = ctx.extra.get("repeat_scope")  # the importer's repeat rows, for sum(), count(), indexed-repeat()
    opts = options(ctx.form, now=now_sql(present, ctx.form), position=ctx.extra.get("position_sql"),
                   repeats=scope(ctx.table) if scope else None)
    headers = ctx.extra.get("file_columns") or {}  # a field as the file's header names it
    absent = set(ctx.extra.get("absent") or ())  # fields the file has no column for
    own = batch is None
    batch = batch or Batch(ctx)
    # What the scan of the files already rules out for every cell staged from their bytes (the importer's
    # `cell_facts`): no NUL byte in them; no line even half as long as the longest cell allowed (half: a cell
    # normalised on staging may grow a little).
    nul_free = bool(ctx.extra.get("nul_free"))
    short_cells = ctx.extra.get("line_bytes_at_most", MAX_CELL_CHARS) * 2 <= MAX_CELL_CHARS
    flag = batch.add
    for f in fields:
        c = q(f.name)
        shown = headers.get(f.name) or f.xlsform_name
        if f.name in absent and f.required:  # the file has no column for it: named by its path
            _absent_required(ctx, f, f.path or shown, _compile(ctx, f.relevant, f, "relevance", types, opts, shown=shown)
                             if f.relevant else None)
            continue
        if not short_cells:
            flag("cell-too-long", f"length({c}) > {MAX_CELL_CHARS}",
                 f"{shown} is longer than {MAX_CELL_CHARS} characters", column=f.name, value=f"left({c}, 40)")
        if not nul_free:
            flag("encoding", f"contains({c}, chr(0))", f"{shown} holds a NUL byte (a binary or mis-encoded file)",
                 column=f.name)
        relevant = _compile(ctx, f.relevant, f, "relevance", types, opts, shown=shown) if f.relevant else None
        if f.required:
            cond = f"{c} IS NULL" + (f" AND coalesce(({relevant}), false)" if relevant else "")
            flag("required", cond, f"{shown} is required", column=f.name)
        if relevant:
            flag("not-relevant", f"{c} IS NOT NULL AND NOT coalesce(({relevant}), false)",
                 f"{shown} is given but does not apply here ({f.relevant})", column=f.name, value=c)
        test = TYPE_TESTS.get(f.type)
        bad_type = None
        if test:
            code, cond, text = test
            bad_type = cond.format(c=c)
            flag(code, f"{c} IS NOT NULL AND coalesce(({bad_type}), true)", f"{shown} {text}", column=f.name, value=c)
        if f.type == "range":
            rule = _range_rule(f, c)
            if rule:
                flag("range", f"{c} IS NOT NULL AND NOT coalesce(({bad_type}), true) AND ({rule[0]})",
                     f"{shown} {rule[1]}", column=f.name, value=c)
        if f.choices and f.type == "select_one":
            flag("choice-unknown", f"{c} IS NOT NULL AND NOT list_contains({_literal_list(f.choices)}, {c})",
                 f"{shown} must be one of {', '.join(f.choices[:12])}", column=f.name, value=c)
        if f.choices and f.type == "select_multiple":
            flag("choice-unknown",
                 f"{c} IS NOT NULL AND len(list_filter(string_split(trim({c}), ' '), "
                 f"lambda v: v <> '' AND NOT list_contains({_literal_list(f.choices)}, v))) > 0",
                 f"{shown} holds a value that is not one of its choices", column=f.name, value=c)
        if f.choice_filter and f.choice_rows and f.type in ("select_one", "select_multiple"):
            cond = _choice_filter(ctx, f, c, types, opts, shown)
            if cond:
                known = (f" AND list_contains({_literal_list(f.choices)}, trim({c}))"
                         if f.type == "select_one" and f.choices else "")
                flag("choice-filtered", f"{c} IS NOT NULL{known} AND ({cond})",
                     f"{shown}: the choice is not among those its filter leaves here ({f.choice_filter})",
                     column=f.name, value=c)
        if f.constraint:
            sql = _compile(ctx, f.constraint, f, "constraint", types, opts, shown=shown)
            if sql:
                guard = f" AND NOT coalesce(({bad_type}), true)" if bad_type else ""
                flag("constraint", f"{c} IS NOT NULL{guard} AND NOT coalesce(({sql}), false)",
                     f.constraint_message or f"{shown} breaks its constraint {f.constraint}", column=f.name, value=c)
    for f in ctx.form.fields:  # calculations, checked against the exported value where there is one
        if f.calculation and f.name in present and f.name not in absent:
            shown = headers.get(f.name) or f.xlsform_name
            rule = _calculation(ctx, f, q(f.name), types, opts, shown)
            if rule:
                flag("calculate-mismatch", f"{q(f.name)} IS NOT NULL AND ({rule[0]})",
                     f"{shown} is not what its calculation gives ({f.calculation})",
                     column=f.name, value=q(f.name), severity=WARNING)
    if own:
        batch.run()


def review_form(form) -> list[Finding]:
    """At install: every expression of the form compiled once; what Passage cannot evaluate is a warning
    naming the field and the function (its rule will not be checked on import), never a crash later."""
    types = {f.name: f.type for f in form.fields}
    # Repeat rows as an export carries them: what sum(), count() and indexed-repeat() can read is checked
    opts_at = {lv: options(form, position="1", repeats=repeat_scope(form, lv, _any_rows))
               for lv in [None, *form.repeats]}
    opts = opts_at[None]
    out: list[Finding] = []
    for f in form.fields:
        exprs = [("relevance", f.relevant), ("constraint", f.constraint), ("calculation", f.calculation)]
        level_types = {x.name: x.type for x in form.fields if x.repeat is None or x.repeat == f.repeat
                       or x.repeat in _enclosing(form, f.repeat)}
        for kind, expr in exprs:
            if not expr:
                continue
            try:
                to_sql(expr, level_types, self_field=f.name, options=opts_at.get(f.repeat, opts))
            except ExpressionError as exc:
                out.append(_review_finding(f, kind, expr, exc))
        if f.choice_filter:
            cols = sorted({k for r in f.choice_rows or [] for k in r})
            try:
                to_sql(f.choice_filter, types, self_field=f.name,
                       options=Options(**{**opts.__dict__, "choice_columns": {k: f"ch.{q(k)}" for k in cols}}))
            except ExpressionError as exc:
                out.append(_review_finding(f, "choice_filter", f.choice_filter, exc))
        if f.choice_file and not f.choices:
            out.append(Finding("expression-unsupported", f"{f.xlsform_name}: the choices file {f.choice_file!r} "
                               "did not come with the form (put it beside the .xlsx): its values are not checked",
                               severity=WARNING, column=f.xlsform_name, value=f.choice_file))
    for repeat, expr in form.repeat_counts.items():  # evaluated on the rows of the enclosing level
        parent = parent_repeat(form, repeat)
        level_types = {x.name: x.type for x in form.fields if x.repeat is None or x.repeat == parent
                       or x.repeat in _enclosing(form, parent)}
        try:
            to_sql(expr, level_types, options=opts_at.get(parent, opts))
        except ExpressionError as exc:
            out.append(Finding("expression-unsupported", f"repeat_count of {form.repeat_xlsform_name(repeat)!r}: "
                               f"{exc.message}", severity=WARNING, column=form.repeat_xlsform_name(repeat), value=expr))
    return out


def _any_rows(repeat: str) -> tuple[str, str]:
    """At install: any repeat's rows, to compile against (RepeatScope.rows)."""
    return "FROM (SELECT NULL AS _row) _rc", "_rc._row"


def _enclosing(form, repeat: str | None) -> list[str]:
    out = []
    while repeat is not None:
        repeat = parent_repeat(form, repeat)
        if repeat is not None:
            out.append(repeat)
    return out


def _review_finding(f, kind: str, expr: str, exc: ExpressionError) -> Finding:
    if exc.feature:
        return Finding("expression-unsupported", f"{kind} of {f.xlsform_name!r} will not be checked on import: "
                       f"{exc.message}", severity=WARNING, column=f.xlsform_name, value=expr)
    return Finding("expression-invalid", f"{kind} of {f.xlsform_name!r}: {exc.message} at {exc.position} "
                   "(imports will report it)", severity=WARNING, column=f.xlsform_name, value=expr)
