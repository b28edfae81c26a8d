"""The institutional pack's own pack.yaml section: `questionnaire`, the yearly office questionnaire and the
"N offices (x %)" figures drawn from it (`pack_sections` hook)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, StrictStr, ValidationInfo, field_validator, model_validator

from passage.packmodel import Section, beside_pack, refers_to
from passage.packs.institutional.offices import LEVELS
from passage.packs.institutional.workflow import STATES


class QuestionTags(Section):
    """Extra XLSForm columns holding each question's tags."""

    sdg: StrictStr | None = Field(None, description="Column of the SDG targets a question reports on.")
    gcm: StrictStr | None = Field(None, description="Column of the Global Compact for Migration objectives.")
    srf: StrictStr | None = Field(None, description="Column of the Strategic Results Framework objective.")
    mandatory: StrictStr | None = Field(None, description="Column saying whether an answer is mandatory.")


class Figure(Section):
    """A figure drawn from the answers. share: offices giving `value` to `question` over a stated denominator;
    count: the offices alone; sum: a count summed over offices; breakdown: parts of a total with their shares."""

    name: StrictStr = Field(description="The figure's name, as the annual report cites it.")
    kind: Literal["share", "count", "sum", "breakdown"] = Field(description="How it is computed.")
    title: StrictStr = Field(description="What the figure is.")
    text: StrictStr | None = Field(None, description="Sentence it is printed as, with {count}, {denominator}, "
                                                     "{percent}, {value} (and {percent_PART} for a breakdown).")
    question: StrictStr | None = Field(None, description="The question answered (share, count, sum).")
    value: StrictStr | None = Field(None, description="The answer counted (share, count); quote yes and no.")
    denominator: Literal["all", "answered"] | None = Field(
        None, description="For a share: `all` offices whose questionnaire counts, or those that `answered`.")
    parts: list[StrictStr] | None = Field(None, description="For a breakdown: the questions giving the parts.")
    total: StrictStr | None = Field(None, description="For a breakdown: the question giving the total.")

    @model_validator(mode="after")
    def _fits_kind(self) -> Figure:
        if self.kind in ("share", "count", "sum") and not self.question:
            raise ValueError(f"a {self.kind} needs `question`")
        if self.kind == "breakdown" and not self.parts:
            raise ValueError("a breakdown needs `parts`")
        return self


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
    indicators: list[Figure] = Field(default_factory=list, description="The figures the annual report quotes.")

    @field_validator("form")
    @classmethod
    def _known_form(cls, value: str, info: ValidationInfo) -> str:
        return refers_to("forms", value, info)

    @field_validator("offices")
    @classmethod
    def _offices_file(cls, value: str, info: ValidationInfo) -> str:
        return beside_pack(value, info)


SECTIONS = {"questionnaire": Questionnaire}
