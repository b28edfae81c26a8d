"""Words that reach templates as data, not as literals: roles, statuses, kinds, indicator names.

Templates show them with `_(value)`, which the extractor cannot see, so they are marked here with `_noop`
(extracted into the catalogue, returned unchanged). Indicator names are identifiers, not words: `english()`
gives the label English readers see instead (the indicator's `label` in its pack, else its title);
tools/i18n.py puts every indicator's name in the catalogue with that label as a note for translators.
"""

from __future__ import annotations

from functools import cache


def _noop(message: str) -> str:
    return message


@cache
def english() -> dict[str, str]:
    """Indicator name -> the words English readers see for it."""
    from passage.indicators import all_indicators

    return {name: ind.label or ind.title for name, ind in all_indicators().items()}

ROLES = (_noop("admin"), _noop("editor"), _noop("viewer"), _noop("public"))
SEVERITIES = (_noop("error"), _noop("warning"))
IMPORT_STATUSES = (_noop("committed"), _noop("rejected"), _noop("unchanged"), _noop("failed"), _noop("running"))
DOCUMENT_KINDS = (_noop("report"), _noop("map"), _noop("snapshot"), _noop("dataset-note"), _noop("other"))
# The records pages' names of system columns (passage.explore.SYSTEM_LABELS).
SYSTEM_COLUMNS = (_noop("Place"), _noop("Record id"), _noop("Version"), _noop("Recorded at"), _noop("Import"),
                  _noop("File row"), _noop("File sheet"), _noop("User"), _noop("Warnings"))
