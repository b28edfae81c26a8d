"""Packs: a domain system as data (forms, keys, checks, indicators, HXL mappings), never a second pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from yaml import CSafeLoader

from passage.errors import NotFound
from passage.forms import Form, compile_xlsform, install_form
from passage.store import Store

PACKS_DIR = Path(__file__).parent


@dataclass
class Pack:
    name: str
    title: str
    path: Path
    forms: dict[str, Form]
    records: dict[str, dict[str, Any]]  # form_id -> {key: [...], checks: {...}, places: {...}}
    indicators: list[dict[str, Any]] = field(default_factory=list)
    exports: dict[str, dict[str, Any]] = field(default_factory=dict)
    layouts: dict[str, list[list[str]]] = field(default_factory=dict)  # provider layouts: column, field, hashtag
    datasets: dict[str, dict[str, Any]] = field(default_factory=dict)  # portal datasets: HDX metadata

    def record_config(self, form_id: str) -> dict[str, Any]:
        return self.records.get(form_id, {})


def available_packs() -> list[str]:
    return sorted(p.parent.name for p in PACKS_DIR.glob("*/pack.yaml"))


@cache
def load_pack(name: str) -> Pack:
    path = PACKS_DIR / name / "pack.yaml"
    if not path.exists():
        raise NotFound(f"no pack named {name!r} (have: {', '.join(available_packs())})")
    spec = yaml.load(path.read_text(encoding="utf-8"), Loader=CSafeLoader)
    forms = {}
    for rel in spec.get("forms", []):
        form = compile_xlsform(path.parent / rel)
        forms[form.form_id] = form
    indicators = []
    for rel in spec.get("indicators", []):
        indicators += yaml.load((path.parent / rel).read_text(encoding="utf-8"), Loader=CSafeLoader)["indicators"]
    return Pack(
        name=name,
        title=spec.get("title", name),
        path=path.parent,
        forms=forms,
        records=spec.get("records", {}),
        indicators=indicators,
        exports=spec.get("exports", {}),
        layouts=spec.get("layouts", {}),
        datasets=spec.get("datasets", {}),
    )


def install_pack(store: Store, name: str) -> Pack:
    """Make a pack's forms usable in a store (idempotent)."""
    pack = load_pack(name)
    for form in pack.forms.values():
        install_form(store, form, pack=name)
    return pack


def pack_for_form(form_id: str) -> Pack | None:
    for name in available_packs():
        pack = load_pack(name)
        if form_id in pack.forms:
            return pack
    return None
