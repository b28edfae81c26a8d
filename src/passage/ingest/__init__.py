"""Ingest: parse -> validate -> load, one transaction per import.

    result = import_files(store, "dtm", [Path("dtm.csv")], user="amina")
    result.status     # "committed", "rejected" or "unchanged"
    result.report     # every finding, located

An importer only parses: it turns a provider's layout into a staging table of text
columns named like its form's fields. Validation (`passage.checks`) and loading
(`passage.records`) are the same for every importer.
"""

from __future__ import annotations

from passage.ingest.pipeline import IMPORTERS, ImportResult, get_importer, import_files

__all__ = ["IMPORTERS", "ImportResult", "get_importer", "import_files"]
