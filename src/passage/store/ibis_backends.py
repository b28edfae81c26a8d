"""Ibis backends that remember what they worked out.

Ibis compiles every expression to SQL afresh and parses every column type of a table each time it is opened:
10-30 ms per query or table on a record table, more than the query itself takes on a page's worth of rows. The
portal and the measures build the same expressions again and again (one per reader class and page), so these
backends keep the SQL per expression (expressions compare by structure, and a table's schema is part of its
expression, so a changed table never reuses old SQL) and the parsed type per type name (a pure function).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from functools import lru_cache
from typing import Any

COMPILED = 512  # expressions whose SQL a backend keeps (least recently used go first)


def _remembering_types(mapper: type) -> type:
    parse = mapper.from_string.__func__

    class Types(mapper):
        @classmethod
        @lru_cache(maxsize=2048)
        def from_string(cls, text: str, nullable: bool = True) -> Any:
            return parse(cls, text, nullable=nullable)

    Types.__name__ = f"Remembering{mapper.__name__}"
    return Types


def _remembering_compiler(compiler: Any) -> Any:
    base = type(compiler)
    return type(f"Remembering{base.__name__}", (base,), {"type_mapper": _remembering_types(base.type_mapper)})()


class _Remembering:
    """Mixed into an Ibis SQL backend: `compile` keeps the SQL of the last COMPILED expressions."""

    def compile(self, expr: Any, /, *, limit: Any = None, params: Any = None, pretty: bool = False) -> str:
        if params:  # scalar parameters are bound into the SQL: not kept
            return super().compile(expr, limit=limit, params=params, pretty=pretty)
        kept = self.__dict__.get("_compiled")
        if kept is None:
            kept = self.__dict__.setdefault("_compiled", (OrderedDict(), threading.Lock()))
        sqls, lock = kept
        key = (expr.op(), limit, pretty)
        with lock:
            sql = sqls.get(key)
            if sql is not None:
                sqls.move_to_end(key)
                return sql
        sql = super().compile(expr, limit=limit, params=params, pretty=pretty)
        with lock:
            sqls[key] = sql
            while len(sqls) > COMPILED:
                sqls.popitem(last=False)
        return sql


@lru_cache(maxsize=1)
def duckdb_backend() -> type:
    from ibis.backends.duckdb import Backend

    return type("RememberingDuckDB", (_Remembering, Backend), {"compiler": _remembering_compiler(Backend.compiler)})


@lru_cache(maxsize=1)
def postgres_backend() -> type:
    from ibis.backends.postgres import Backend

    return type("RememberingPostgres", (_Remembering, Backend), {"compiler": _remembering_compiler(Backend.compiler)})
