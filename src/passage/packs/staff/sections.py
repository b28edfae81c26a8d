"""The staff pack's own pack.yaml sections: the annexes by nationality, Annex I's subsets, reference files,
the consistency rules and the register's record checks (`pack_sections` hook)."""

from __future__ import annotations

from typing import Literal

from pydantic import (
    Field,
    RootModel,
    StrictStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from passage.measures import Comparison, formula_names
from passage.packmodel import Section, beside_pack, refers_to

Severity = Literal["error", "warning"]


class Annex(Section):
    category: StrictStr = Field(description="The register category the annex counts.")
    grades: list[StrictStr] = Field(description="Its grade columns in the report's order; the importer's grade "
                                                "check and the form's grade choices come from them.")


class Annexes(RootModel[dict[StrictStr, Annex]]):
    """Annex table name -> the category it counts and its grade columns."""


class Annex1(Section):
    """Which register subsets make each table of Annex I."""

    international_professional: StrictStr = Field(description="Category of Table 1 and Table 4's international "
                                                              "Professional staff.")
    general_service: StrictStr = Field(description="Category of Table 4's General Service and National Officers.")
    table2_grades: dict[StrictStr, list[StrictStr]] = Field(description="Table 2's row label -> the Annex III grade "
                                                                        "columns it adds up.")
    table3_grades: list[StrictStr] = Field(description="The grades Table 3 (P-5 and higher) counts.")


class Reference(Section):
    """Reference files, relative to pack.yaml."""

    nationalities: StrictStr = Field(description="Member States and observers/others, per annex, in order.")
    prior: StrictStr = Field(description="Annex I figures of earlier years, as published.")
    figures: StrictStr = Field(description="Figures the report prints outside the annex tables.")

    @field_validator("nationalities", "prior", "figures")
    @classmethod
    def _exists(cls, value: str, info: ValidationInfo) -> str:
        return beside_pack(value, info)


class Rule(Comparison):
    """A consistency rule: a comparison whose sides read the pack's measures (`measures:`)."""

    @field_validator("left", "right")
    @classmethod
    def _reads_pack_measures(cls, side: str | float, info: ValidationInfo) -> str | float:
        for name in formula_names(side) if isinstance(side, str) else []:
            refers_to("measures", name, info)
        return side


class Rules(RootModel[list[Rule]]):
    """The consistency rules run before a report is rendered: comparisons of the pack's measures (or of formulas
    over them) with a tolerance and a severity, over the report's tables (docs/staff.md)."""

    @model_validator(mode="after")
    def _unique_ids(self) -> Rules:
        ids = [rule.id for rule in self.root]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"rule id(s) used twice: {', '.join(twice)}")
        return self


class GradeInCategory(Section):
    field: StrictStr = Field(description="The field holding the grade.")
    by: StrictStr = Field(description="The field holding the category whose grades (`annexes`) are allowed.")


class NationalityListed(Section):
    severity: Severity = Field("warning", description="How a nationality missing from the list is reported.")


class RegisterChecks(Section):
    """Record checks the staff-register importer runs (codes staff.grade_category, staff.nationality_unlisted)."""

    grade_in_category: GradeInCategory | None = Field(None, description="The grade is one of its category's.")
    nationality_listed: NationalityListed | None = Field(None, description="(category, group, nationality) is "
                                                                           "in the reference list.")


SECTIONS = {"annexes": Annexes, "annex1": Annex1, "reference": Reference, "rules": Rules,
            "records.checks": RegisterChecks}
