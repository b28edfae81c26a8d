"""Publication: every published table in every format (CSV, XLSX, Parquet, JSON, HXL CSV).

    table = get_table(store, "site_visits")
    write(table, "csv", Path("site_visits.csv"))
"""

from passage.publish.formats import FORMATS, write
from passage.publish.tables import PublishedTable, get_table, list_tables

__all__ = ["FORMATS", "PublishedTable", "get_table", "list_tables", "write"]
