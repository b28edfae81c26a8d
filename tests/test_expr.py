"""XLSForm expressions compiled to DuckDB SQL: compiled, then executed on VARCHAR rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import duckdb
import pytest

from passage.forms.expr import ExpressionError, referenced_fields, to_sql


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _eval(
    expression: str,
    fields: Mapping[str, str],
    rows: Sequence[Mapping[str, str | None]],
    self_field: str | None = None,
) -> list[int]:
    """Indices of the rows for which the compiled expression is true (NULL counts as false)."""
    con = duckdb.connect()
    columns = ", ".join(f"{_ident(name)} VARCHAR" for name in fields)
    con.execute(f"CREATE TABLE t (rid INTEGER, {columns})")
    names = list(fields)
    placeholders = ", ".join("?" for _ in range(len(names) + 1))
    for i, row in enumerate(rows):
        con.execute(f"INSERT INTO t VALUES ({placeholders})", [i, *(row.get(n) for n in names)])
    sql = to_sql(expression, fields, self_field)
    result = con.execute(f"SELECT rid FROM t WHERE coalesce(({sql}), false) ORDER BY rid").fetchall()
    return [r[0] for r in result]


def _scalar(
    expression: str,
    fields: Mapping[str, str] | None = None,
    row: Mapping[str, str | None] | None = None,
) -> object:
    fields = fields or {"x": "text"}
    con = duckdb.connect()
    columns = ", ".join(f"{_ident(name)} VARCHAR" for name in fields)
    con.execute(f"CREATE TABLE t ({columns})")
    row = row or {}
    con.execute(
        f"INSERT INTO t VALUES ({', '.join('?' for _ in fields)})", [row.get(n) for n in fields]
    )
    return con.execute(f"SELECT {to_sql(expression, fields)} FROM t").fetchone()[0]


# --------------------------------------------------------------------------- constraints on rows


def test_range_constraint_on_integer_self():
    ages = ["0", "120", "121", "-1", None, "abc", "35"]
    rows = [{"age": a} for a in ages]
    assert _eval(". >= 0 and . <= 120", {"age": "integer"}, rows, self_field="age") == [0, 1, 6]


def test_sum_of_fields():
    fields = {"males": "integer", "females": "integer", "total": "integer"}
    rows = [
        {"males": "3", "females": "4", "total": "7"},
        {"males": "3", "females": "4", "total": "10"},
        {"males": "3", "females": "5", "total": "7"},
        {"males": "3", "females": None, "total": "7"},  # empty operand -> fails
        {"males": "10", "females": "2", "total": "100"},  # numeric, not lexical, comparison
    ]
    assert _eval("${males} + ${females} <= ${total}", fields, rows) == [0, 1, 4]


def test_selected_and_not_selected():
    fields = {"needs": "select_multiple needs"}
    rows = [
        {"needs": "water"},
        {"needs": "water food"},
        {"needs": "food"},
        {"needs": None},
        {"needs": "shelter water"},
        {"needs": "waterproofing"},  # whole-token match only
    ]
    expr = "selected(${needs}, 'water') and not(selected(${needs}, 'food'))"
    assert _eval(expr, fields, rows) == [0, 4]


def test_count_selected():
    fields = {"needs": "select_multiple"}
    rows = [{"needs": "a"}, {"needs": "a b"}, {"needs": "a b c"}, {"needs": None}, {"needs": "a  b"}]
    assert _eval("count-selected(${needs}) >= 2", fields, rows) == [1, 2, 4]
    assert _eval("count-selected(${needs}) = 0", fields, rows) == [3]


def test_regex_is_full_match():
    rows = [{"code": "ABC"}, {"code": "ABCD"}, {"code": "abc"}, {"code": "xABC"}, {"code": None}]
    assert _eval("regex(., '^[A-Z]{3}$')", {"code": "text"}, rows, self_field="code") == [0]
    # Without anchors ODK still requires the whole value to match.
    assert _eval("regex(., '[A-Z]{3}')", {"code": "text"}, rows, self_field="code") == [0]


def test_regex_rejects_java_only_constructs():
    with pytest.raises(ExpressionError) as err:
        to_sql("regex(., '(?=a)abc')", {"x": "text"}, "x")
    assert err.value.position == 9
    assert "RE2" in err.value.message


def test_or_with_string_comparison():
    fields = {"age": "integer", "head": "select_one yes_no"}
    rows = [
        {"age": "18", "head": "no"},
        {"age": "17", "head": "no"},
        {"age": "12", "head": "yes"},
        {"age": None, "head": "yes"},
        {"age": None, "head": None},
    ]
    assert _eval("${age} > 17 or ${head} = 'yes'", fields, rows) == [0, 2, 3]


def test_date_not_in_future():
    today = dt.date.today()
    rows = [
        {"d": "2020-05-01"},
        {"d": (today + dt.timedelta(days=1)).isoformat()},
        {"d": today.isoformat()},
        {"d": "not a date"},
        {"d": None},
    ]
    assert _eval("${d} <= today()", {"d": "date"}, rows) == [0, 2]


def test_date_compared_with_string_literal_and_date_function():
    rows = [{"d": "2023-12-31"}, {"d": "2024-01-01"}, {"d": "2024-06-30"}]
    assert _eval("${d} >= '2024-01-01'", {"d": "date"}, rows) == [1, 2]
    assert _eval("${d} < date('2024-01-01')", {"d": "date"}, rows) == [0]


def test_date_arithmetic_is_in_days():
    rows = [{"dob": "2024-01-01", "visit": "2024-01-31"}, {"dob": "2024-01-01", "visit": "2024-03-01"}]
    fields = {"dob": "date", "visit": "date"}
    assert _eval("${visit} - ${dob} <= 30", fields, rows) == [0]
    assert _eval("${visit} <= ${dob} + 30", fields, rows) == [0]


def test_datetime_field():
    rows = [{"ts": "2024-01-01T10:00:00.000+03:00"}, {"ts": "2024-01-02T00:00:00"}]
    assert _eval("${ts} < '2024-01-01T12:00:00'", {"ts": "dateTime"}, rows) == [0]
    assert _eval("${ts} <= now()", {"ts": "dateTime"}, rows) == [0, 1]


def test_if_returns_value():
    rows = [{"a": "2"}, {"a": "1"}, {"a": None}]
    assert _eval("if(${a} > 1, 'x', 'y') = 'x'", {"a": "integer"}, rows) == [0]
    assert _eval("if(${a} > 1, 'x', 'y') = 'y'", {"a": "integer"}, rows) == [1, 2]
    assert _eval("if(${a} > 1, 10, 20) + 1 = 11", {"a": "integer"}, rows) == [0]


def test_string_literals_are_escaped():
    fields = {"name": "text"}
    rows = [{"name": "O'Brien"}, {"name": "OBrien"}, {"name": 'say "hi"'}]
    assert _eval('. = "O\'Brien"', fields, rows, self_field="name") == [0]
    assert _eval("${name} = 'say \"hi\"'", fields, rows) == [2]


def test_sql_injection_stays_a_literal():
    con = duckdb.connect()
    con.execute("CREATE TABLE t (x VARCHAR)")
    con.execute("INSERT INTO t VALUES ('a'), ('''; DROP TABLE t; --')")
    sql = to_sql("${x} = \"'; DROP TABLE t; --\"", {"x": "text"})
    assert con.execute(f"SELECT count(*) FROM t WHERE coalesce(({sql}), false)").fetchone()[0] == 1
    sql = to_sql("${x} = '\"); DROP TABLE t; --'", {"x": "text"})
    assert con.execute(f"SELECT count(*) FROM t WHERE coalesce(({sql}), false)").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM t").fetchone()[0] == 2


def test_identifiers_are_quoted():
    fields = {'we"ird': "integer", "select": "text"}
    rows = [{'we"ird': "5", "select": "x"}, {'we"ird': "1", "select": "y"}]
    assert _eval("${we\"ird} > 2 and ${select} = 'x'", fields, rows) == [0]


def test_string_length():
    rows = [{"s": "abcde"}, {"s": "abcdef"}, {"s": None}, {"s": "é"}]
    assert _eval("string-length(.) <= 5", {"s": "text"}, rows, self_field="s") == [0, 2, 3]


def test_precedence():
    one_row = [{"x": None}]
    assert _eval("1 + 2 * 3 = 7", {"x": "text"}, one_row) == [0]
    assert _eval("(1 + 2) * 3 = 9", {"x": "text"}, one_row) == [0]
    assert _eval("not(1 = 2) and 3 > 2", {"x": "text"}, one_row) == [0]
    assert _eval("1 = 2 and 3 > 2 or 1 = 1", {"x": "text"}, one_row) == [0]
    assert _eval("1 = 2 and (3 > 2 or 1 = 1)", {"x": "text"}, one_row) == []
    assert _eval("10 - 2 - 3 = 5", {"x": "text"}, one_row) == [0]
    assert _eval("-2 * -3 = 6", {"x": "text"}, one_row) == [0]
    assert _eval("2 < 3 = true()", {"x": "text"}, one_row) == [0]


def test_div_and_mod():
    rows = [{"n": "7"}, {"n": "8"}, {"n": "-7"}]
    assert _eval(". mod 2 = 1", {"n": "integer"}, rows, self_field="n") == [0]
    assert _eval(". mod 3 = -1", {"n": "integer"}, rows, self_field="n") == [2]  # XPath: truncating
    assert _eval(". div 2 = 3.5", {"n": "integer"}, rows, self_field="n") == [0]
    assert _scalar("7 div 2") == 3.5
    assert _scalar("1 div 0") == float("inf")


def test_numeric_comparison_casts_text_side():
    rows = [{"c": "10"}, {"c": "9"}, {"c": "x"}]
    # calculate fields are VARCHAR; a number literal makes the comparison numeric
    assert _eval("${c} > 9", {"c": "calculate"}, rows) == [0]
    assert _eval("${c} = '10'", {"c": "calculate"}, rows) == [0]


def test_relational_between_two_text_values():
    fields = {"a": "calculate", "b": "calculate"}
    rows = [{"a": "9", "b": "10"}, {"a": "b", "b": "a"}, {"a": "2024-01-01", "b": "2024-02-01"}]
    assert _eval("${a} < ${b}", fields, rows) == [0, 2]


def test_string_functions():
    fields = {"s": "text"}
    rows = [{"s": "hello world"}, {"s": "world"}, {"s": None}]
    assert _eval("contains(${s}, 'lo w')", fields, rows) == [0]
    assert _eval("starts-with(${s}, 'world')", fields, rows) == [1]
    assert _eval("ends-with(${s}, 'world')", fields, rows) == [0, 1]
    assert _eval("concat(${s}, '!') = 'world!'", fields, rows) == [1]
    assert _eval("concat(${s}, '!') = '!'", fields, rows) == [2]  # empty concatenates as ''


def test_coalesce_and_truthiness():
    fields = {"a": "text", "b": "text"}
    rows = [{"a": "x", "b": "y"}, {"a": None, "b": "y"}, {"a": None, "b": None}]
    assert _eval("coalesce(${a}, ${b}) = 'y'", fields, rows) == [1]
    assert _eval("not(${a})", fields, rows) == [1, 2]  # empty value is false
    assert _eval("boolean(${a}) or ${b} != ''", fields, rows) == [0, 1]


def test_numeric_functions():
    assert _scalar("number('3.5') + 1") == 4.5
    assert _scalar("int(-2.7)") == -2.0
    assert _scalar("round(2.345, 2)") == 2.35
    assert _scalar("round(2.5)") == 3.0
    assert _scalar("abs(-3) + floor(1.7) + ceiling(1.2)") == 6.0
    assert _scalar("string(3)") == "3"
    assert _scalar("string(1 div 4)") == "0.25"
    assert _scalar("concat('n=', 2 + 1)") == "n=3"
    assert _scalar("string(true())") == "true"
    assert _scalar("date('2024-02-29')") == dt.date(2024, 2, 29)


def test_numeric_field_keeps_raw_text_in_strings():
    assert _scalar("concat(${n}, '')", {"n": "integer"}, {"n": "007"}) == "007"


def test_whitespace_and_newlines():
    rows = [{"a": "5"}]
    assert _eval("\n${a}\t>\n  4  ", {"a": "integer"}, rows) == [0]


# --------------------------------------------------------------------------- errors


def _error(
    expression: str, fields: Mapping[str, str] | None = None, self_field: str | None = "x"
) -> ExpressionError:
    with pytest.raises(ExpressionError) as err:
        to_sql(expression, fields if fields is not None else {"x": "integer", "y": "text"}, self_field)
    assert err.value.expression == expression
    assert isinstance(err.value, ValueError)
    return err.value


def test_error_unclosed_parenthesis():
    e = _error("not(. = 1")
    assert e.position == 3
    assert "'('" in e.message
    e = _error("(1 + 2 = 3")
    assert e.position == 0


def test_error_unmatched_closing_parenthesis():
    e = _error(". = 1)")
    assert e.position == 5
    assert "')'" in e.message


def test_error_unknown_field():
    e = _error(". > ${missing}")
    assert e.position == 4
    assert "missing" in e.message


def test_error_unknown_function():
    e = _error(". = frobnicate(1)")
    assert e.position == 4
    assert "frobnicate" in e.message


def test_error_trailing_garbage():
    e = _error(". > 1 2")
    assert e.position == 6
    e = _error(". > 1 ${y}")
    assert e.position == 6


def test_error_unsupported_xpath():
    assert _error("/data/z > 1").position == 0  # no field z
    assert _error("../z > 1").position == 0
    assert _error("../x[1] > 1").feature == "path"
    assert _error("count(instance('c')/root/item)").position == 0
    assert "instance" in _error(". = instance('c')").message
    assert _error(". = position()").position == 4
    e = _error("${x} / 2")
    assert e.position == 5 and "div" in e.message
    e = _error("${x}[1] = 2")
    assert e.position == 4
    e = _error("x > 1")
    assert e.position == 0 and "${name}" in e.message


def test_error_lexical():
    assert _error("${y} = 'abc").position == 7  # unterminated string
    assert _error("${y = 1").position == 0
    assert _error("${} = 1").position == 0
    assert _error(". # 1").position == 2
    assert _error(". ! 1").position == 2
    assert _error("${y} = \u2018a\u2019").position == 7


def test_error_misc():
    assert _error("").position == 0
    assert _error("   ").position == 0
    assert _error(". >").position == 3
    e = _error("selected(${y})")
    assert e.position == 0 and "2" in e.message
    assert _error(". = 1", self_field=None).position == 0
    assert _error("date('2024-13-01')").position == 5
    assert _error("true").message.endswith("true()?")


def test_error_str_includes_position():
    e = _error(". > ${nope}")
    assert "position 4" in str(e)


# --------------------------------------------------------------------------- referenced_fields


def test_referenced_fields():
    assert referenced_fields("${a} + ${b} <= ${total} and . > 0") == {"a", "b", "total"}
    assert referenced_fields("selected(${needs}, '${not_a_field}')") == {"needs"}
    assert referenced_fields("1 = 1") == set()
    # Works on expressions to_sql rejects, so dependency graphs can be built from any form.
    assert referenced_fields("instance('c')/root/item[name = ${f}]") == {"f"}
    with pytest.raises(ExpressionError):
        referenced_fields("${a} = 'unterminated")
