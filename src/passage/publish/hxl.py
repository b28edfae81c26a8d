"""HXL output checked by libhxl itself, against the schema the pack declares."""

from __future__ import annotations

import io

import hxl

from passage.publish.formats import write_csv


def validate(table) -> list[dict]:
    """Run libhxl's schema validation over the table's HXL CSV; returns the problems found."""
    buf = io.StringIO()
    write_csv(table.data, buf, table.hxl)
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
