"""HXL output checked by libhxl itself, against the schema the pack declares."""

from __future__ import annotations

import io

import hxl
import pyarrow as pa
import pyarrow.compute as pc

from passage.publish.formats import write_csv


def validate(table) -> list[dict]:
    """Run libhxl's schema validation over the table's HXL CSV; returns the problems found."""
    buf = io.StringIO()
    write_csv(_readable_dates(table), buf, table.hxl)
    source = hxl.data(io.BytesIO(buf.getvalue().encode("utf-8")), hxl.InputOptions(allow_local=True))
    header = ["#valid_tag", "#valid_required", "#valid_datatype", "#valid_value+min", "#valid_value+list",
              "#valid_value+regex"]
    rows = [header] + [[rule.get(h, "") for h in header] for rule in table.hxl_schema]
    problems: list[dict] = []

    def collect(error):
        problems.append({"tag": str(error.rule.tag_pattern), "row": error.row.row_number if error.row else None,
                         "value": error.value, "message": error.message})

    schema = hxl.schema(rows, callback=collect)
    schema.validate(source)
    return problems


UNREADABLE_DATE = "(not a date)"


def _readable_dates(table) -> pa.Table:
    """The table with every value of a date-checked column that libhxl's date reader cannot even try (dateutil
    overflows on a number too large for a date part, or fails a decimal division on odd seconds; the platform's
    clock refuses a number of seconds since 1970 too large for it) replaced by text it reports as not a date, in
    its own words and at its own row, instead of stopping the whole validation with an exception."""
    from hxl.datatypes import is_date
    from hxl.model import Column, TagPattern

    patterns = [TagPattern.parse(rule["#valid_tag"]) for rule in table.hxl_schema
                if rule.get("#valid_datatype") == "date" and rule.get("#valid_tag")]
    data = table.data
    for col, tag in (table.hxl or {}).items():
        if col not in data.column_names or not any(p.match(Column.parse(tag)) for p in patterns):
            continue
        values = data.column(col).cast(pa.string())
        unreadable = set()
        for v in pc.unique(values).to_pylist():  # a table repeats its dates: each is tried once
            try:
                if v:
                    is_date(v)
            except (ArithmeticError, ValueError, TypeError, OSError):  # OSError: EOVERFLOW from localtime
                unreadable.add(v)
        if unreadable:
            bad = pc.is_in(values, value_set=pa.array(sorted(unreadable), pa.string()))
            fixed = pc.if_else(bad, pa.scalar(UNREADABLE_DATE, pa.string()), values)
            data = data.set_column(data.column_names.index(col), col, fixed)
    return data
