"""Places: the admin hierarchy (admin0..admin3 by ISO 3166 and OCHA P-codes), sites, points of entry, offices."""

from passage.places.bundled import ensure_places
from passage.places.gazetteer import import_countries, import_lengths, import_pcodes, list_places
from passage.places.pcodes import PcodeResolver

__all__ = ["PcodeResolver", "ensure_places", "import_countries", "import_lengths", "import_pcodes", "list_places"]
