"""The travel pack's own pack.yaml section: `mappings`, the tables that read each provider's native values as
IOM's measure categories (`pack_sections` hook)."""

from __future__ import annotations

from pydantic import Field, StrictStr

from passage.packmodel import Section


class Target(Section):
    """What a native value maps to; `{}` marks a value known but too broad to map (imported with a warning)."""

    category: StrictStr | None = Field(None, description="IOM category: entry_restriction, entry_condition or "
                                                         "not_travel.")
    subcategory: StrictStr | None = Field(None, description="IOM subcategory, e.g. border_closure.")
    condition_group: StrictStr | None = Field(None, description="Group of an entry condition, e.g. medical.")
    exceptions: list[StrictStr] | None = Field(None, description="Who is exempted: nationals, residents, family, "
                                                                 "other.")


Table = dict[StrictStr, Target]


class Mappings(Section):
    """Native value -> IOM category, per provider field. Data, not code: edit them to change how a provider's
    coding is read."""

    acaps_measure: Table = Field(description="ACAPS MEASURE, matched trimmed and case-insensitively.")
    acaps_category: Table = Field(description="ACAPS CATEGORY, for a MEASURE the table above does not list.")
    acaps_log_type: dict[StrictStr, StrictStr] = Field(description="ACAPS LOG_TYPE -> action (introduce, "
                                                                   "phase_out); any other is rejected.")
    cobap_policy_type: Table = Field(description="COBAP POLICY_TYPE.")
    cobap_policy_subtype: Table = Field(description="COBAP POLICY_SUBTYPE: the subcategory of a PARTIAL policy, "
                                                    "the exceptions of a COMPLETE one.")


SECTIONS = {"mappings": Mappings}
