"""Publication: every published table in every format (CSV, XLSX, Parquet, JSON, HXL CSV).

    table = get_table(store, "hapi-idps")
    write(table, "csv", Path("idps.csv"))
"""

from passage.publish.formats import FORMATS, write
from passage.publish.tables import PublishedTable, get_table, list_tables

__all__ = ["FORMATS", "PublishedTable", "get_table", "list_tables", "write"]
