"""Words that reach templates as data, not as literals: indicator names, roles, statuses, kinds.

Templates show them with `_(value)`, which the extractor cannot see, so they are marked here with `_noop`
(extracted into the catalogue, returned unchanged). Indicator names are identifiers, not words: `ENGLISH`
gives the title English readers see instead, and the catalogue carries it as a note for translators.
"""

from __future__ import annotations


def _noop(message: str) -> str:
    return message


ENGLISH = {
    _noop("idps"): "IDPs present",
    _noop("idps_latest"): "IDPs at the latest round",
    _noop("idps_change"): "Change since the previous round",
    _noop("idps_by_sex"): "IDPs by sex",
    _noop("idps_by_country"): "IDPs at the latest round, by country",
}

ROLES = (_noop("admin"), _noop("editor"), _noop("viewer"), _noop("public"))
SEVERITIES = (_noop("error"), _noop("warning"))
IMPORT_STATUSES = (_noop("committed"), _noop("rejected"), _noop("unchanged"), _noop("failed"), _noop("running"))
DOCUMENT_KINDS = (_noop("report"), _noop("map"), _noop("snapshot"), _noop("dataset-note"), _noop("other"))
