"""Compile XLSForm expressions (ODK XPath subset) into DuckDB SQL.

Why: an import can carry millions of rows, and evaluating each row's `constraint`,
`relevant` and `calculation` in Python would dominate the run time. Compiling every
expression once into a SQL expression lets DuckDB validate the whole staging table
in a single set-based query.

Staging tables hold every form field as VARCHAR (NULL when empty), one column per
field, named exactly like the field. `to_sql` returns an expression over those
columns; the caller wraps it (e.g. `coalesce((<sql>), false)`).

Semantics follow XPath 1.0 as used by ODK, with these deliberate choices:

* Empty values are SQL NULL and propagate (a comparison with an empty operand is
  NULL, which the caller turns into false). Exceptions that mirror ODK:
  `selected()`, `count-selected()`, `string-length()` and `concat()` treat an
  empty value as the empty string, and converting an empty value to a boolean
  (`not(${x})`, `if(${x}, ...)`) gives false.
* Comparisons: `=`/`!=` with a boolean side compare as booleans; otherwise a
  numeric side makes the comparison numeric; otherwise a dateTime/date side makes
  it temporal (the other side cast to TIMESTAMP/DATE); otherwise `=`/`!=` compare
  strings, and `<`/`<=`/`>`/`>=` compare numerically when both sides parse as
  numbers and as strings when they do not (ISO dates compare correctly as strings).
* Dates used as numbers (arithmetic, comparison with a number) are days since
  1970-01-01, as in ODK, so `today() - ${dob}` is an age in days.
* `=`/`!=` bind looser than `<`/`<=`/`>`/`>=` (XPath's equality vs relational
  levels); both are non-associative in practice and left-associative here.
* Regular expressions run on RE2 (DuckDB), not Java: literal patterns using
  lookaround, backreferences or possessive quantifiers are rejected at compile
  time, because RE2 would fail the whole validation query at run time.
"""

from __future__ import annotations

import datetime as _dt
import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

__all__ = ["REPEAT_FUNCTIONS", "UNCHECKABLE", "ExpressionError", "Options", "RepeatScope", "functions",
           "referenced_fields", "to_sql", "to_sql_bool", "to_sql_typed"]


MAX_DEPTH = 32  # parentheses nested deeper than this are refused


class ExpressionError(ValueError):
    """An expression cannot be compiled; `position` is the character offset of the problem."""

    def __init__(self, message: str, expression: str, position: int, feature: str | None = None):
        self.message = message
        self.expression = expression
        self.position = position
        # A valid XLSForm feature Passage cannot evaluate (a function name, "path", "instance()"), as
        # opposed to a mistake in the expression: reported when the form is installed, the rule unchecked.
        self.feature = feature
        super().__init__(f"{message} (at position {position} in {expression!r})")


# --------------------------------------------------------------------------- tokens

_NUM, _STR, _FIELD, _DOT, _NAME, _OP, _LPAREN, _RPAREN, _COMMA, _PATH, _EOF = (
    "number",
    "string",
    "field",
    "dot",
    "name",
    "op",
    "(",
    ")",
    ",",
    "path",
    "end",
)


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str  # the source text of the token (for messages)
    pos: int
    value: str = ""  # field name, string contents, number lexeme, name


_NUMBER_RE = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")  # ASCII digits: XPath numbers (and SQL's)
_DIGITS = "0123456789"
_FIELD_RE = re.compile(r"\$\{([^\s{}$]+)\}")
_SMART_QUOTES = "\u2018\u2019\u201c\u201d"


def _is_name_start(ch: str) -> bool:
    return ch.isalpha() or ch == "_"


def _is_name_char(ch: str) -> bool:
    return ch.isalnum() or ch in "_-.:"


def _tokenize(expr: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(expr)
    while i < n:
        ch = expr[i]
        if ch.isspace():
            i += 1
            continue
        start = i
        if ch == "$":
            m = _FIELD_RE.match(expr, i)
            if not m:
                raise ExpressionError(
                    "malformed field reference: expected ${name}", expr, start
                )
            tokens.append(_Token(_FIELD, m.group(0), start, m.group(1)))
            i = m.end()
        elif ch in "'\"":
            end = expr.find(ch, i + 1)
            if end < 0:
                raise ExpressionError(f"unterminated string literal (missing closing {ch})", expr, start)
            tokens.append(_Token(_STR, expr[i : end + 1], start, expr[i + 1 : end]))
            i = end + 1
        elif ch in _DIGITS or (ch == "." and i + 1 < n and expr[i + 1] in _DIGITS):
            m = _NUMBER_RE.match(expr, i)
            assert m is not None
            tokens.append(_Token(_NUM, m.group(0), start, m.group(0)))
            i = m.end()
        elif ch == ".":
            if expr.startswith("..", i):
                tokens.append(_Token(_PATH, "..", start))
                i += 2
            else:
                tokens.append(_Token(_DOT, ".", start))
                i += 1
        elif _is_name_start(ch):
            j = i + 1
            while j < n and _is_name_char(expr[j]):
                j += 1
            # A trailing '.' or '-' is not part of a name (e.g. "x-" before a number).
            while expr[j - 1] in ".-":
                j -= 1
            tokens.append(_Token(_NAME, expr[i:j], start, expr[i:j]))
            i = j
        elif ch == "(":
            tokens.append(_Token(_LPAREN, ch, start))
            i += 1
        elif ch == ")":
            tokens.append(_Token(_RPAREN, ch, start))
            i += 1
        elif ch == ",":
            tokens.append(_Token(_COMMA, ch, start))
            i += 1
        elif expr.startswith(("!=", "<=", ">="), i):
            tokens.append(_Token(_OP, expr[i : i + 2], start))
            i += 2
        elif ch in "=<>+-*":
            tokens.append(_Token(_OP, ch, start))
            i += 1
        elif expr.startswith("//", i):
            tokens.append(_Token(_PATH, "//", start))
            i += 2
        elif ch in "/[]|@":
            tokens.append(_Token(_PATH, ch, start))
            i += 1
        elif ch == "!":
            raise ExpressionError("unexpected '!': use '!=' or not(...)", expr, start)
        elif ch in _SMART_QUOTES:
            raise ExpressionError(
                f"typographic quote {ch!r}: use plain ' or \" quotes", expr, start
            )
        else:
            raise ExpressionError(f"unexpected character {ch!r}", expr, start)
    tokens.append(_Token(_EOF, "", n))
    return tokens


# --------------------------------------------------------------------------- typed SQL values

_NUMBER, _STRING, _BOOLEAN, _DATE, _DATETIME = "number", "string", "boolean", "date", "dateTime"

_NUMERIC_TYPES = {"integer", "int", "decimal", "range"}
_DATE_TYPES = {"date", "today"}
_DATETIME_TYPES = {"datetime", "start", "end"}


@dataclass(frozen=True)
class _Val:
    sql: str
    kind: str
    # Preferred rendering as a string, when cheaper/more faithful than converting
    # `sql` (the raw VARCHAR column of a typed field, the text of a number literal).
    text_sql: str | None = None
    # Python value of a literal (str or float), for compile-time checks.
    literal: str | float | None = None


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _quote_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _as_num(v: _Val) -> str:
    if v.kind == _NUMBER:
        return v.sql
    if v.kind == _BOOLEAN:
        return f"CAST({v.sql} AS DOUBLE)"
    if v.kind == _DATE:
        return f"CAST(({v.sql}) - DATE '1970-01-01' AS DOUBLE)"
    if v.kind == _DATETIME:
        return f"(epoch({v.sql}) / 86400.0)"
    return f"TRY_CAST({v.sql} AS DOUBLE)"


def _as_str(v: _Val) -> str:
    if v.kind == _STRING:
        return v.sql
    if v.text_sql is not None:
        return v.text_sql
    if v.kind == _NUMBER:
        # DOUBLE renders as '3.0'; ODK renders whole numbers as '3'.
        return f"regexp_replace(CAST({v.sql} AS VARCHAR), '\\.0$', '')"
    if v.kind == _BOOLEAN:
        return f"(CASE WHEN {v.sql} THEN 'true' WHEN NOT {v.sql} THEN 'false' END)"
    if v.kind == _DATE:
        return f"strftime({v.sql}, '%Y-%m-%d')"
    return f"strftime({v.sql}, '%Y-%m-%dT%H:%M:%S.%g')"


def _as_bool(v: _Val) -> str:
    if v.kind == _BOOLEAN:
        return v.sql
    if v.kind == _NUMBER:
        return f"coalesce(({v.sql}) <> 0, false)"
    if v.kind in (_DATE, _DATETIME):
        return f"(({v.sql}) IS NOT NULL)"
    return f"coalesce(length({v.sql}) > 0, false)"


def _as_date(v: _Val) -> str:
    if v.kind == _DATE:
        return v.sql
    if v.kind == _DATETIME:
        return f"CAST({v.sql} AS DATE)"
    return f"TRY_CAST({_as_str(v)} AS DATE)"


def _as_timestamp(v: _Val) -> str:
    if v.kind == _DATETIME:
        return v.sql
    if v.kind == _DATE:
        return f"CAST({v.sql} AS TIMESTAMP)"
    return f"TRY_CAST({_as_str(v)} AS TIMESTAMP)"


def _unify(values: list[_Val]) -> tuple[list[str], str]:
    """SQL for values that must share one type (if/coalesce branches)."""
    kinds = {v.kind for v in values}
    if len(kinds) == 1:
        kind = kinds.pop()
        return [v.sql for v in values], kind
    return [_as_str(v) for v in values], _STRING


# RE2 (DuckDB) lacks these Java regex features; DuckDB would raise at query time.
_RE2_UNSUPPORTED = re.compile(r"(?<!\\)\(\?(?:=|!|<=|<!|>)|(?<!\\)\\[1-9]|(?<!\\)[*+?}]\+")


@dataclass(frozen=True)
class Options:
    """What an expression may refer to beyond the row's own fields.

    names: XLSForm name -> storage name (`${hh-size}` is the column `hh_size`); paths: storage name -> the
    field's path in the form (`household/hh-size`), so that `../x` and `/data/g/x` resolve; now: SQL of the
    moment `today()` and `now()` mean (the submission's own time), default the clock; choice_columns:
    bare name -> SQL (a choice_filter reads the choices' columns); choice_labels: storage name ->
    {value: label} for jr:choice-name; position: SQL of the row's 1-based position among its siblings
    (position(..) in a repeat).
    """

    names: Mapping[str, str] | None = None
    paths: Mapping[str, str] | None = None
    now: str | None = None
    choice_columns: Mapping[str, str] | None = None
    choice_labels: Mapping[str, Mapping[str, str]] | None = None
    position: str | None = None
    repeats: RepeatScope | None = None


@dataclass(frozen=True)
class RepeatScope:
    """The repeat rows an expression of one level may read (`sum(${age})`, `indexed-repeat(...)`).

    names: XLSForm name -> storage name of every field and repeat of the form; field_repeat: storage name of a
    field in a repeat -> its repeat; repeat_names: XLSForm repeat name -> storage name; types: every field's type;
    rows(repeat): the SQL `FROM <table> _rc WHERE ...` of that repeat's rows that belong to the current row
    (children of it, or for its own repeat its siblings) with `_rc` as their alias, and the SQL of their order,
    or None when they cannot be read (the export does not carry them, or the repeat is nested deeper).
    """

    names: Mapping[str, str]
    field_repeat: Mapping[str, str]
    repeat_names: Mapping[str, str]
    types: Mapping[str, str]
    rows: Callable[[str], tuple[str, str] | None]


# Functions of ODK XPath that cannot be decided from one row's exported values: installing a form that uses
# them says so, and the rule that uses them is not checked.
UNCHECKABLE = {
    "pulldata": "reads a CSV attached on the device", "instance": "reads a secondary instance",
    "random": "a random number", "uuid": "a fresh identifier", "once": "a value kept from the first edit",
    "digest": "a hash function", "area": "geometry", "distance": "geometry", "format-date": "a formatted date",
    "format-date-time": "a formatted date", "version": "the form version on the device",
    "property": "a device property", "randomize": "shuffles choices", "sin": "trigonometry",
    "cos": "trigonometry", "tan": "trigonometry", "asin": "trigonometry", "acos": "trigonometry",
    "atan": "trigonometry", "atan2": "trigonometry", "pi": "trigonometry", "checklist": "over several nodes",
    "weighted-checklist": "over several nodes", "decimal-time": "a time of day", "geofence": "geometry",
    "last-saved": "the last saved form", "jr:itext": "a translation", "base64-decode": "decoding",
    "encrypt-string": "encryption", "decrypt-string": "encryption", "extract-signed": "signatures",
}


# Functions over the nodes of a repeat: evaluated over the repeat's rows of the current row when the check
# is given them (Options.repeats), otherwise unchecked like those above. name -> (min args, max args).
REPEAT_FUNCTIONS = {"sum": (1, 1), "count": (1, 1), "max": (1, 1), "min": (1, 1), "join": (2, 2),
                    "indexed-repeat": (3, 3)}


# --------------------------------------------------------------------------- functions

_Handler = Callable[["_Parser", list[_Val], list[int]], _Val]


def _f_selected(p: _Parser, a: list[_Val], pos: list[int]) -> _Val:
    return _Val(
        f"list_contains(string_split(coalesce({_as_str(a[0])}, ''), ' '), {_as_str(a[1])})", _BOOLEAN
    )


def _f_count_selected(p: _Parser, a: list[_Val], pos: list[int]) -> _Val:
    return _Val(
        f"CAST(len(regexp_extract_all(coalesce({_as_str(a[0])}, ''), '\\S+')) AS DOUBLE)", _NUMBER
    )


def _f_regex(p: _Parser, a: list[_Val], pos: list[int]) -> _Val:
    pattern = a[1]
    if isinstance(pattern.literal, str):
        m = _RE2_UNSUPPORTED.search(pattern.literal)
        if m:
            raise ExpressionError(
                f"regex construct {m.group(0)!r} (lookaround, backreference or possessive "
                "quantifier) is not supported by the SQL regex engine (RE2)",
                p.expr,
                pos[1],
            )
        problem = _re2_error(pattern.literal)
        if problem:
            raise ExpressionError(f"the regex is not valid: {problem}", p.expr, pos[1])
        return _Val(f"regexp_full_match({_as_str(a[0])}, {_as_str(pattern)})", _BOOLEAN)
    # A pattern read from a field may be no regex at all: it matches nothing rather than failing the check.
    return _Val(f"TRY(regexp_full_match({_as_str(a[0])}, {_as_str(pattern)}))", _BOOLEAN)


@functools.lru_cache(maxsize=1024)
def _re2_error(pattern: str) -> str | None:
    """Why RE2 (DuckDB's regex engine) refuses a pattern, or None: a literal it refuses would fail the whole
    validation query when it runs."""
    import duckdb

    try:
        duckdb.connect(":memory:").execute("SELECT regexp_full_match('', ?)", [pattern]).fetchall()
    except duckdb.Error as exc:
        return str(exc).split(": ", 1)[-1][:200]
    return None


def _f_string_length(p: _Parser, a: list[_Val], pos: list[int]) -> _Val:
    return _Val(f"CAST(length(coalesce({_as_str(a[0])}, '')) AS DOUBLE)", _NUMBER)


def _f_if(p: _Parser, a: list[_Val], pos: list[int]) -> _Val:
    (then_sql, else_sql), kind = _unify([a[1], a[2]])
    return _Val(f"(CASE WHEN {_as_bool(a[0])} THEN {then_sql} ELSE {else_sql} END)", kind)


def _f_coalesce(p: _Parser, a: list[_Val], pos: list[int]) -> _Val:
    (first, second), kind = _unify(a)
    if kind == _STRING:
        first = f"nullif({first}, '')"  # ODK: first non-empty value
    return _Val(f"coalesce({first}, {second})", kind)


def _f_concat(p: _Parser, a: list[_Val], pos: list[int]) -> _Val:
    if not a:
        return _Val("''", _STRING, literal="")
    return _Val(f"concat({', '.join(_as_str(v) for v in a)})", _STRING)


def _f_round(p: _Parser, a: list[_Val], pos: list[int]) -> _Val:
    places = f"TRY_CAST({_as_num(a[1])} AS INTEGER)" if len(a) > 1 else "0"
    return _Val(f"round({_as_num(a[0])}, {places})", _NUMBER)


def _f_date(p: _Parser, a: list[_Val], pos: list[int]) -> _Val:
    v = a[0]
    if isinstance(v.literal, str) and v.kind == _STRING:
        try:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", v.literal):
                raise ValueError
            _dt.date.fromisoformat(v.literal)
        except ValueError:
            raise ExpressionError(
                f"date() expects 'YYYY-MM-DD', got {v.literal!r}", p.expr, pos[0]
            ) from None
    if v.kind == _NUMBER:
        return _Val(f"TRY(DATE '1970-01-01' + TRY_CAST(floor({v.sql}) AS INTEGER))", _DATE)  # NULL out of range
    return _Val(_as_date(v), _DATE)


def _simple(template: str, kind: str, conv: Callable[[_Val], str]) -> _Handler:
    def handler(p: _Parser, a: list[_Val], pos: list[int]) -> _Val:
        return _Val(template.format(*(conv(v) for v in a)), kind)

    return handler


# name -> (min args, max args or None for unbounded, handler)
_FUNCTIONS: dict[str, tuple[int, int | None, _Handler]] = {
    "true": (0, 0, lambda p, a, pos: _Val("true", _BOOLEAN)),
    "false": (0, 0, lambda p, a, pos: _Val("false", _BOOLEAN)),
    "not": (1, 1, _simple("(NOT {0})", _BOOLEAN, _as_bool)),
    "boolean": (1, 1, _simple("{0}", _BOOLEAN, _as_bool)),
    "selected": (2, 2, _f_selected),
    "count-selected": (1, 1, _f_count_selected),
    "regex": (2, 2, _f_regex),
    "string-length": (1, 1, _f_string_length),
    "today": (0, 0, lambda p, a, pos: _Val(f"CAST(({p.now_sql}) AS DATE)", _DATE)),
    "now": (0, 0, lambda p, a, pos: _Val(p.now_sql, _DATETIME)),
    "if": (3, 3, _f_if),
    "coalesce": (2, 2, _f_coalesce),
    "concat": (0, None, _f_concat),
    "number": (1, 1, _simple("{0}", _NUMBER, _as_num)),
    "int": (1, 1, _simple("trunc({0})", _NUMBER, _as_num)),
    "round": (1, 2, _f_round),
    "abs": (1, 1, _simple("abs({0})", _NUMBER, _as_num)),
    "floor": (1, 1, _simple("floor({0})", _NUMBER, _as_num)),
    "ceiling": (1, 1, _simple("ceil({0})", _NUMBER, _as_num)),
    "date": (1, 1, _f_date),
    "contains": (2, 2, _simple("contains({0}, {1})", _BOOLEAN, _as_str)),
    "starts-with": (2, 2, _simple("starts_with({0}, {1})", _BOOLEAN, _as_str)),
    "ends-with": (2, 2, _simple("ends_with({0}, {1})", _BOOLEAN, _as_str)),
    "string": (1, 1, _simple("{0}", _STRING, _as_str)),
    "selected-at": (2, 2, lambda p, a, pos: _Val(
        f"TRY(string_split(trim(coalesce({_as_str(a[0])}, '')), ' ')[TRY_CAST({_as_num(a[1])} AS INTEGER) + 1])",
        _STRING)),
    "jr:choice-name": (2, 2, lambda p, a, pos: p.choice_name(a, pos)),
    "position": (0, 1, lambda p, a, pos: p.position(pos)),  # handled in call()
    "substr": (2, 3, lambda p, a, pos: _Val(
        f"TRY(substr(coalesce({_as_str(a[0])}, ''), TRY_CAST({_as_num(a[1])} AS INTEGER) + 1"
        + (f", TRY_CAST({_as_num(a[2])} AS INTEGER) - TRY_CAST({_as_num(a[1])} AS INTEGER)))" if len(a) > 2 else "))"),
        _STRING)),
    "substring-before": (2, 2, lambda p, a, pos: _Val(
        f"(CASE WHEN strpos({_as_str(a[0])}, {_as_str(a[1])}) > 0 THEN "
        f"left({_as_str(a[0])}, strpos({_as_str(a[0])}, {_as_str(a[1])}) - 1) ELSE '' END)", _STRING)),
    "substring-after": (2, 2, lambda p, a, pos: _Val(
        f"(CASE WHEN strpos({_as_str(a[0])}, {_as_str(a[1])}) > 0 THEN substr({_as_str(a[0])}, "
        f"strpos({_as_str(a[0])}, {_as_str(a[1])}) + length({_as_str(a[1])})) ELSE '' END)", _STRING)),
    "normalize-space": (1, 1, _simple("trim(regexp_replace(coalesce({0}, ''), '\\s+', ' ', 'g'))", _STRING, _as_str)),
    "translate": (3, 3, _simple("translate({0}, {1}, {2})", _STRING, _as_str)),
    "pow": (2, 2, _simple("pow({0}, {1})", _NUMBER, _as_num)),
    "sqrt": (1, 1, _simple("sqrt({0})", _NUMBER, _as_num)),
    "exp": (1, 1, _simple("exp({0})", _NUMBER, _as_num)),
    "log": (1, 1, _simple("ln({0})", _NUMBER, _as_num)),
    "log10": (1, 1, _simple("log10({0})", _NUMBER, _as_num)),
    "boolean-from-string": (1, 1, _simple("(coalesce({0}, '') IN ('true', '1'))", _BOOLEAN, _as_str)),
    "decimal-date-time": (1, 1, _simple("(epoch({0}) / 86400.0)", _NUMBER, _as_timestamp)),
}

_SQL_COMPARE = {"=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


# --------------------------------------------------------------------------- parser


class _Parser:
    def __init__(self, expr: str, fields: Mapping[str, str], self_field: str | None, options: Options | None = None):
        self.expr = expr
        self.fields = fields
        self.self_field = self_field
        self.opts = options or Options()
        self.now_sql = self.opts.now or "CAST(current_timestamp AS TIMESTAMP)"
        self.tokens = _tokenize(expr)
        self.i = 0

    def resolve(self, name: str) -> str | None:
        """The storage column of a field named as the XLSForm names it (or by its storage name)."""
        names = self.opts.names or {}
        if name in names and names[name] in self.fields:
            return names[name]
        return name if name in self.fields else None

    def choice_name(self, a: list[_Val], pos: list[int]) -> _Val:
        """jr:choice-name(value, '${field}'): the label of the value among that field's choices."""
        ref = a[1].literal if isinstance(a[1].literal, str) else None
        target = None
        if ref is not None:
            m = _FIELD_RE.fullmatch(ref.strip())
            target = self.resolve(m.group(1) if m else ref.strip().rsplit("/", 1)[-1])
        labels = (self.opts.choice_labels or {}).get(target or "")
        if labels is None:
            raise self.error("jr:choice-name() needs the field named as a literal '${name}' with its choices",
                             pos[1] if len(pos) > 1 else 0)
        if not labels:
            return _Val("''", _STRING, literal="")
        cases = " ".join(f"WHEN {_quote_str(k)} THEN {_quote_str(v)}" for k, v in labels.items())
        return _Val(f"(CASE {_as_str(a[0])} {cases} ELSE '' END)", _STRING)

    def position(self, pos: list[int]) -> _Val:
        if self.opts.position is None:
            raise self.error("position() is known only in a repeat", pos[0] if pos else 0, feature="position")
        return _Val(f"CAST(({self.opts.position}) AS DOUBLE)", _NUMBER)

    # -- helpers

    @property
    def tok(self) -> _Token:
        return self.tokens[self.i]

    def advance(self) -> _Token:
        tok = self.tokens[self.i]
        if tok.kind != _EOF:
            self.i += 1
        return tok

    def error(self, message: str, pos: int, feature: str | None = None) -> ExpressionError:
        return ExpressionError(message, self.expr, pos, feature)

    def at_op(self, *ops: str) -> bool:
        t = self.tok
        return (t.kind == _OP and t.text in ops) or (t.kind == _NAME and t.text in ops)

    # -- grammar

    def parse(self) -> _Val:
        if self.tok.kind == _EOF:
            raise self.error("empty expression", 0)
        depth = 0
        for t in self.tokens:  # a form's rule nests a few levels; hundreds would exhaust the parser's stack
            depth += (t.kind == _LPAREN) - (t.kind == _RPAREN)
            if depth > MAX_DEPTH:
                raise self.error(f"parentheses nested more than {MAX_DEPTH} deep", t.pos)
        try:
            value = self.or_expr()
        except RecursionError:  # e.g. a long chain of unary minus signs
            raise self.error("the expression is nested too deeply", 0) from None
        t = self.tok
        if t.kind != _EOF:
            if t.kind == _RPAREN:
                raise self.error("unmatched ')'", t.pos)
            if t.kind == _PATH and t.text == "/":
                raise self.error("'/' is not division in XPath: use 'div'", t.pos)
            if t.kind == _PATH:
                raise self.error(f"XPath path syntax {t.text!r} is not supported", t.pos)
            raise self.error(f"unexpected {t.text!r} after a complete expression", t.pos)
        return value

    def or_expr(self) -> _Val:
        left = self.and_expr()
        while self.at_op("or"):
            self.advance()
            right = self.and_expr()
            left = _Val(f"({_as_bool(left)} OR {_as_bool(right)})", _BOOLEAN)
        return left

    def and_expr(self) -> _Val:
        left = self.equality_expr()
        while self.at_op("and"):
            self.advance()
            right = self.equality_expr()
            left = _Val(f"({_as_bool(left)} AND {_as_bool(right)})", _BOOLEAN)
        return left

    def equality_expr(self) -> _Val:
        left = self.relational_expr()
        while self.tok.kind == _OP and self.tok.text in ("=", "!="):
            op = self.advance().text
            left = _compare(op, left, self.relational_expr())
        return left

    def relational_expr(self) -> _Val:
        left = self.additive_expr()
        while self.tok.kind == _OP and self.tok.text in ("<", "<=", ">", ">="):
            op = self.advance().text
            left = _compare(op, left, self.additive_expr())
        return left

    def additive_expr(self) -> _Val:
        left = self.multiplicative_expr()
        while self.tok.kind == _OP and self.tok.text in ("+", "-"):
            op = self.advance().text
            right = self.multiplicative_expr()
            left = _Val(f"({_as_num(left)} {op} {_as_num(right)})", _NUMBER)
        return left

    def multiplicative_expr(self) -> _Val:
        left = self.unary_expr()
        while self.at_op("*", "div", "mod"):
            op = {"*": "*", "div": "/", "mod": "%"}[self.advance().text]
            right = self.unary_expr()
            left = _Val(f"({_as_num(left)} {op} {_as_num(right)})", _NUMBER)
        return left

    def unary_expr(self) -> _Val:
        if self.tok.kind == _OP and self.tok.text == "-":
            self.advance()
            operand = self.unary_expr()
            return _Val(f"(- {_as_num(operand)})", _NUMBER)
        return self.primary()

    def primary(self) -> _Val:
        t = self.tok
        if t.kind == _NUM:
            self.advance()
            number = float(t.value)
            text = str(int(number)) if number.is_integer() else repr(number)
            return _Val(f"CAST({t.value} AS DOUBLE)", _NUMBER, text_sql=_quote_str(text), literal=number)
        if t.kind == _STR:
            self.advance()
            return _Val(_quote_str(t.value), _STRING, literal=t.value)
        if t.kind == _FIELD:
            self.advance()
            col = self.resolve(t.value)
            if col is None:
                raise self.error(f"unknown field ${{{t.value}}}", t.pos)
            return self.column(col)
        if self.at_path():
            return self.path()
        if t.kind == _DOT:
            self.advance()
            if self.self_field is None:
                raise self.error("'.' (the current field) used where there is no current field", t.pos)
            if self.self_field not in self.fields:
                raise self.error(f"unknown current field {self.self_field!r}", t.pos)
            return self.column(self.self_field)
        if t.kind == _LPAREN:
            self.advance()
            value = self.or_expr()
            self.expect_close(t)
            return value
        if t.kind == _NAME:
            if self.tokens[self.i + 1].kind == _LPAREN:
                return self.call()
            if self.opts.choice_columns is not None and t.text in self.opts.choice_columns:
                self.advance()  # a choice_filter names the choices' own columns
                return _Val(self.opts.choice_columns[t.text], _STRING)
            hint = f"; did you mean {t.text}()?" if t.text in ("true", "false") else ""
            raise self.error(
                f"bare name {t.text!r} is an XPath path, which is not supported: "
                f"reference fields as ${{name}}{hint}",
                t.pos,
                feature=None if hint else "path",
            )
        if t.kind == _PATH:
            raise self.error(
                f"XPath path syntax {t.text!r} is not supported: reference fields as ${{name}}", t.pos,
                feature="path",
            )
        if t.kind == _EOF:
            raise self.error("expression ends where a value was expected", t.pos)
        raise self.error(f"expected a value but found {t.text!r}", t.pos)

    def expect_close(self, open_tok: _Token) -> None:
        t = self.tok
        if t.kind == _RPAREN:
            self.advance()
            return
        if t.kind == _EOF:
            raise self.error("unclosed '('", open_tok.pos)
        raise self.error(f"expected ')' but found {t.text!r}", t.pos)

    def call(self) -> _Val:
        name_tok = self.advance()
        open_tok = self.advance()
        name = name_tok.text
        if name in REPEAT_FUNCTIONS:
            return self.over_repeat(name, name_tok, open_tok)
        spec = _FUNCTIONS.get(name)
        if spec is None:
            if name in UNCHECKABLE:
                raise self.error(f"{name}() ({UNCHECKABLE[name]}) cannot be checked from the exported row",
                                 name_tok.pos, feature=f"{name}()")
            raise self.error(f"unknown or unsupported function {name}()", name_tok.pos)
        args: list[_Val] = []
        positions: list[int] = []
        if name == "position":  # position(..): the current node's position among its siblings
            while self.tok.kind in (_PATH, _DOT) and self.tok.text in ("..", "."):
                self.advance()
            self.expect_close(open_tok)
            return self.position([name_tok.pos])
        if self.tok.kind != _RPAREN:
            while True:
                positions.append(self.tok.pos)
                args.append(self.or_expr())
                if self.tok.kind == _COMMA:
                    self.advance()
                    continue
                break
        self.expect_close(open_tok)
        low, high = spec[0], spec[1]
        if len(args) < low or (high is not None and len(args) > high):
            if high is None:
                expected = f"at least {low}"
            elif low == high:
                expected = str(low)
            else:
                expected = f"{low} to {high}"
            raise self.error(
                f"{name}() takes {expected} argument{'s' if expected != '1' else ''}, got {len(args)}",
                name_tok.pos,
            )
        return spec[2](self, args, positions)

    # -- functions over repeat rows

    def over_repeat(self, name: str, name_tok: _Token, open_tok: _Token) -> _Val:
        """sum/count/max/min/join over a repeat's nodes, indexed-repeat(${field}, ${repeat}, n): correlated
        subqueries over the repeat rows of the current row (RepeatScope.rows)."""
        scope = self.opts.repeats
        why = {"sum": "sums over repeat rows", "count": "counts repeat rows", "join": "joins repeat rows",
               "indexed-repeat": "reads other repeat rows"}.get(name, "over repeat rows")
        if scope is None:
            raise self.error(f"{name}() ({why}) cannot be checked without the repeat's rows", name_tok.pos,
                             feature=f"{name}()")
        low, high = REPEAT_FUNCTIONS[name]
        args: list[tuple[_Token, _Val | None]] = []
        if self.tok.kind != _RPAREN:
            while True:
                t = self.tok
                if t.kind == _FIELD and self.tokens[self.i + 1].kind in (_COMMA, _RPAREN):
                    self.advance()  # a node set: read below, not as the current row's value
                    args.append((t, None))
                else:
                    args.append((t, self.or_expr()))
                if self.tok.kind == _COMMA:
                    self.advance()
                    continue
                break
        self.expect_close(open_tok)
        if not low <= len(args) <= high:
            raise self.error(f"{name}() takes {low if low == high else f'{low} to {high}'} argument"
                             f"{'s' if high > 1 else ''}, got {len(args)}", name_tok.pos)
        node_tok = args[1][0] if name == "join" else args[0][0]
        if node_tok.kind != _FIELD:
            raise self.error(f"{name}() over a path or an expression, not a ${{field}}, is not checked",
                             node_tok.pos, feature=f"{name}()")
        target = scope.names.get(node_tok.value, node_tok.value)
        repeat = scope.field_repeat.get(target)
        counted_group = None
        if repeat is None and name == "count":
            counted_group = scope.repeat_names.get(node_tok.value, node_tok.value if node_tok.value in
                                                   scope.repeat_names.values() else None)
            repeat = counted_group
        if target in self.fields and name != "indexed-repeat":
            return self.single_node(name, args, target)  # a node of the current row (its level or above): itself
        if repeat is None:
            raise self.error(f"{name}() over ${{{node_tok.value}}}, which is in no repeat group, is not checked",
                             node_tok.pos, feature=f"{name}()")
        if name == "indexed-repeat":
            group_tok = args[1][0]
            group = scope.repeat_names.get(group_tok.value, group_tok.value) if group_tok.kind == _FIELD else None
            if group != repeat:
                raise self.error("indexed-repeat() across nested repeats (or of a field outside its repeat) is "
                                 "not checked", group_tok.pos, feature="indexed-repeat()")
        rows = scope.rows(repeat)
        if rows is None:
            raise self.error(f"{name}() reads rows of repeat group {node_tok.value!r} that this check does not have "
                             "(the export does not carry them, or they lie in a nested repeat)", name_tok.pos,
                             feature=f"{name}()")
        source, order = rows
        if name == "count":
            return _Val(f"CAST((SELECT count(*) {source}) AS DOUBLE)", _NUMBER)
        col = f"_rc.{_quote_ident(target)}"
        if name in ("sum", "max", "min"):
            agg = {"sum": "coalesce(sum({x}), 0)", "max": "max({x})", "min": "min({x})"}[name]
            return _Val(f"(SELECT {agg.format(x=f'TRY_CAST({col} AS DOUBLE)')} {source})", _NUMBER)
        if name == "join":
            sep = args[0][1]
            assert sep is not None
            return _Val(f"coalesce((SELECT string_agg({col}, {_as_str(sep)} ORDER BY {order}) {source}), '')",
                        _STRING)
        index = args[2][1]
        if index is None:  # a bare ${field} as the index: the current row's value
            index = self.column_of(args[2][0])
        cell = f"list_extract((SELECT list({col} ORDER BY {order}) {source}), TRY_CAST({_as_num(index)} AS INTEGER))"
        return _typed(cell, scope.types.get(target))

    def column_of(self, tok: _Token) -> _Val:
        col = self.resolve(tok.value)
        if col is None:
            raise self.error(f"unknown field ${{{tok.value}}}", tok.pos)
        return self.column(col)

    def single_node(self, name: str, args: list[tuple[_Token, _Val | None]], target: str) -> _Val:
        """sum/max/min/join/count over a field of the current level: one node, itself."""
        v = self.column(target)
        if name == "count":
            return _Val("CAST(1 AS DOUBLE)", _NUMBER)
        if name == "join":
            return _Val(f"coalesce({_as_str(v)}, '')", _STRING)
        return _Val(f"coalesce({_as_num(v)}, 0)" if name == "sum" else _as_num(v), _NUMBER)

    def at_path(self) -> bool:
        """`..`, `./x`, `/data/x` or `current()/..`: a location path as pyxform writes references."""
        t = self.tok
        if t.kind == _EOF:
            return False
        nxt = self.tokens[self.i + 1]
        if t.kind == _PATH and t.text in ("..", "/"):
            return True
        if t.kind == _DOT and nxt.kind == _PATH and nxt.text == "/":
            return True
        return (t.kind == _NAME and t.text == "current" and nxt.kind == _LPAREN and self.i + 2 < len(self.tokens)
                and self.tokens[self.i + 2].kind == _RPAREN)

    def path(self) -> _Val:
        """Resolve a relative (`../x`, `current()/../x`) or absolute (`/data/g/x`) path to a field: by its
        steps against the fields' paths when they are known, else by its last name when that is unique."""
        start = self.tok.pos
        steps: list[str] = []
        absolute = False
        if self.tok.kind == _NAME:  # current()
            self.advance(), self.advance(), self.advance()
            steps.append(".")
        elif self.tok.kind == _PATH and self.tok.text == "/":
            absolute = True
            self.advance()
        expect_step = absolute
        while True:
            t = self.tok
            if expect_step or not steps:
                if t.kind == _PATH and t.text == "..":
                    steps.append("..")
                elif t.kind == _DOT:
                    steps.append(".")
                elif t.kind == _NAME and self.tokens[self.i + 1].kind != _LPAREN:
                    steps.append(t.text)
                else:
                    raise self.error(f"XPath path step {t.text!r} is not supported", t.pos, feature="path")
                self.advance()
                expect_step = False
                continue
            if t.kind == _PATH and t.text == "/":
                self.advance()
                expect_step = True
                continue
            if t.kind == _PATH and t.text in ("[", "//"):
                raise self.error(f"XPath {t.text!r} (predicates, descendants) is not supported", t.pos,
                                 feature="path")
            break
        target = self.resolve_path(steps, absolute, start)
        if target is None:
            return self.column(self.self_field) if self.self_field in self.fields else self.error_path(start)
        return self.column(target)

    def error_path(self, pos: int) -> _Val:
        raise self.error("'.' (the current field) used where there is no current field", pos)

    def resolve_path(self, steps: list[str], absolute: bool, pos: int) -> str | None:
        names = [s for s in steps if s not in (".", "..")]
        if not names:
            if all(s == "." for s in steps):
                return None  # the current field
            raise self.error("a path to a group, not a field", pos, feature="path")
        paths = self.opts.paths or {}
        candidates: list[str] = []
        if paths:
            here: list[str] | None = None
            if absolute:
                here = []
                steps = steps[1:]  # the instance root (/data)
            elif self.self_field in paths:
                here = paths[self.self_field].split("/")
            if here is not None:
                for s in steps:
                    if s == "..":
                        if not here:
                            here = None
                            break
                        here = here[:-1]
                    elif s != ".":
                        here = here + [s]
                if here:
                    want = "/".join(here)
                    candidates = [c for c, p in paths.items() if p == want and c in self.fields]
        if not candidates:
            col = self.resolve(names[-1])
            if col is not None:
                return col
            raise self.error(f"the path {'/'.join(steps)} names no field of the form", pos)
        return candidates[0]

    def column(self, name: str) -> _Val:
        return _typed(_quote_ident(name), self.fields[name])


def _typed(raw: str, xls_type: str | None) -> _Val:
    """A staged text (a column, a repeat's cell) as the value its XLSForm type makes it; the text kept beside."""
    words = (xls_type or "").split()
    kind = words[0].lower() if words else ""
    if kind in _NUMERIC_TYPES:
        return _Val(f"TRY_CAST({raw} AS DOUBLE)", _NUMBER, text_sql=raw)
    if kind in _DATE_TYPES:
        return _Val(f"TRY_CAST({raw} AS DATE)", _DATE, text_sql=raw)
    if kind in _DATETIME_TYPES:
        return _Val(f"TRY_CAST({raw} AS TIMESTAMP)", _DATETIME, text_sql=raw)
    return _Val(raw, _STRING)


def _compare(op: str, left: _Val, right: _Val) -> _Val:
    sql_op = _SQL_COMPARE[op]
    kinds = {left.kind, right.kind}
    relational = op not in ("=", "!=")

    def cmp(conv: Callable[[_Val], str]) -> _Val:
        return _Val(f"({conv(left)} {sql_op} {conv(right)})", _BOOLEAN)

    if _BOOLEAN in kinds and not relational:
        return cmp(_as_bool)
    if _NUMBER in kinds or _BOOLEAN in kinds:
        return cmp(_as_num)
    if _DATETIME in kinds:
        return cmp(_as_timestamp)
    if _DATE in kinds:
        return cmp(_as_date)
    if relational:
        # Both strings: numeric when both parse as numbers (XPath converts to
        # numbers), otherwise lexical (right for ISO dates and plain text).
        numeric = f"({_as_num(left)} {sql_op} {_as_num(right)})"
        return _Val(f"coalesce({numeric}, ({left.sql} {sql_op} {right.sql}))", _BOOLEAN)
    return cmp(_as_str)


# --------------------------------------------------------------------------- public API


def to_sql(expression: str, fields: Mapping[str, str], self_field: str | None = None,
           options: Options | None = None) -> str:
    """Compile an XLSForm expression into a DuckDB SQL expression.

    `fields` maps every form field name to its XLSForm type ('integer', 'decimal',
    'text', 'date', 'dateTime', 'select_one', 'select_multiple', 'calculate', ...);
    only the first word of the type is used, so 'select_one yes_no' is accepted.
    `.` refers to `self_field`. Raises ExpressionError for syntax errors, unknown
    ${field} references, unknown functions and unsupported XPath constructs.
    """
    return _Parser(expression, fields, self_field, options).parse().sql


def to_sql_typed(expression: str, fields: Mapping[str, str], self_field: str | None = None,
                 options: Options | None = None) -> tuple[str, str]:
    """`to_sql` and the XPath type of its value: number, string, boolean, date or dateTime."""
    v = _Parser(expression, fields, self_field, options).parse()
    return v.sql, v.kind


def to_sql_bool(expression: str, fields: Mapping[str, str], self_field: str | None = None,
                options: Options | None = None) -> str:
    """`to_sql` converted to a boolean as XPath does (a rule such as `constraint = 0` is a number)."""
    return _as_bool(_Parser(expression, fields, self_field, options).parse())


def functions() -> list[str]:
    """The functions the compiler evaluates (docs/forms.md lists them; a test checks it does); those over repeat
    rows (REPEAT_FUNCTIONS) are evaluated when the check has the repeat's rows."""
    return sorted([*_FUNCTIONS, *REPEAT_FUNCTIONS])


def referenced_fields(expression: str) -> set[str]:
    """Names used as ${name} in the expression (not inside string literals), as the XLSForm writes them.

    Only tokenizes, so it also works on expressions `to_sql` rejects (paths,
    unsupported functions); it raises ExpressionError only for lexical errors.
    """
    return {t.value for t in _tokenize(expression) if t.kind == _FIELD}
