"""The travel pack's mapping tables (native value -> IOM category), read from pack.yaml.

They live in the pack so that an organisation changes how a provider's coding is read by editing data;
the importers and the documentation read them from here.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from passage.plugins import load_pack


@cache
def load_mappings() -> dict[str, dict[str, Any]]:
    """Every table under `mappings:` in packs/travel/pack.yaml, as written there."""
    return load_pack("travel").spec.get("mappings") or {}


def folded(table: str) -> dict[str, Any]:
    """A table keyed by its native values trimmed and case-folded (how providers' text is matched)."""
    return {fold(k): v for k, v in load_mappings().get(table, {}).items()}


def fold(value: str | None) -> str:
    """Trimmed, inner runs of spaces collapsed, case-folded: "Border closure " == "border  Closure"."""
    return " ".join((value or "").split()).casefold()


def mappings_markdown() -> str:
    """The mapping tables as Markdown, as docs/travel.md prints them (a test keeps the two in step)."""
    out = []
    for table, rows in load_mappings().items():
        out += [f"`{table}`:", "", "| native value | maps to |", "|---|---|"]
        for native, target in rows.items():
            if isinstance(target, dict):
                shown = ", ".join(f"{k} `{' '.join(v) if isinstance(v, list) else v}`" for k, v in target.items())
                shown = shown or ("*adds nothing: POLICY_TYPE decides*" if table == "cobap_policy_subtype"
                                  else "*not mapped: kept with a `travel.category-unmapped` warning*")
            else:
                shown = f"`{target}`"
            out.append(f"| {native} | {shown} |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"
