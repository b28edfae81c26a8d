"""The institutional pack's own pack.yaml section: `questionnaire`, the yearly office questionnaire (`pack_sections`
hook). Its "N offices (x %)" figures are the pack's `measures:` (passage.measures), not a section of their own."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, StrictStr, ValidationInfo, field_validator

from passage.packmodel import Section, beside_pack, refers_to
from passage.packs.institutional.offices import LEVELS
from passage.packs.institutional.workflow import STATES


class QuestionTags(Section):
    """Extra XLSForm columns holding each question's tags."""

    sdg: StrictStr | None = Field(None, description="Column of the SDG targets a question reports on.")
    gcm: StrictStr | None = Field(None, description="Column of the Global Compact for Migration objectives.")
    srf: StrictStr | None = Field(None, description="Column of the Strategic Results Framework objective.")
    mandatory: StrictStr | None = Field(None, description="Column saying whether an answer is mandatory.")


class Questionnaire(Section):
    """The yearly office questionnaire."""

    form: StrictStr = Field(description="The questionnaire's form id (one of the pack's forms).")
    offices: StrictStr = Field(description="Office list (CSV, relative to pack.yaml) loaded by `passage offices "
                                           "import` when no file is given.")
    respondents: list[Literal[tuple(LEVELS)]] = Field(  # type: ignore[valid-type]description="Office kinds expected to answer (participation's "
                                                     "denominator).")
    counted: list[Literal[STATES]] = Field(  # type: ignore[valid-type]
        description="Workflow states whose answers count in the figures.")
    tags: QuestionTags = Field(default_factory=QuestionTags, description="Columns holding each question's tags.")
    srf_objectives: dict[StrictStr, StrictStr] = Field(default_factory=dict, description="Strategic Results "
                                                                                         "Framework objective -> "
                                                                                         "its title.")

    @field_validator("form")
    @classmethod
    def _known_form(cls, value: str, info: ValidationInfo) -> str:
        return refers_to("forms", value, info)

    @field_validator("offices")
    @classmethod
    def _offices_file(cls, value: str, info: ValidationInfo) -> str:
        return beside_pack(value, info)


SECTIONS = {"questionnaire": Questionnaire}
