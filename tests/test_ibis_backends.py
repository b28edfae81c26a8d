"""The store's Ibis backends keep compiled SQL and parsed types, and never serve SQL of an older table shape."""

from __future__ import annotations


def test_same_expression_compiles_once_and_a_changed_table_is_seen(any_store):
    any_store.execute("CREATE TABLE remembered (a INTEGER, b VARCHAR)")
    any_store.execute("INSERT INTO remembered VALUES (1, 'x'), (2, 'y')")
    con = any_store.ibis()
    t = con.table("remembered")
    expr = t.filter(t.a > 1).select("a", "b")
    first = con.compile(expr)
    again = con.table("remembered")
    assert con.compile(again.filter(again.a > 1).select("a", "b")) is first  # the same structure: kept SQL
    assert expr.to_pyarrow().to_pylist() == [{"a": 2, "b": "y"}]

    any_store.execute("ALTER TABLE remembered ADD COLUMN c DOUBLE PRECISION")
    any_store.execute("UPDATE remembered SET c = 0.5 WHERE a = 2")
    now = con.table("remembered")
    assert now.columns == ("a", "b", "c")
    assert now.filter(now.a > 1).to_pyarrow().to_pylist() == [{"a": 2, "b": "y", "c": 0.5}]
    assert str(now.schema()["c"]).startswith("float64")
