"""Ingest: parse -> validate -> load, one transaction per import.

    result = import_files(store, "xlsform-data", [Path("export.csv")], form_id="site_visit", user="amina")
    result.status     # "committed", "rejected" or "unchanged"
    result.report     # every finding, located

An importer only parses: it turns a provider's layout into a staging table of text
columns named like its form's fields. Validation (`passage.checks`) and loading
(`passage.records`) are the same for every importer.
"""

from __future__ import annotations

from passage.ingest.pipeline import ImportResult, get_importer, import_files, importers

__all__ = ["ImportResult", "get_importer", "import_files", "importers"]
