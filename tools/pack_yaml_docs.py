"""Write docs/pack-yaml.md from the pack.yaml model (tests/test_docs.py fails when it is stale).

Every key of the core's sections, of indicator files and of each installed pack's own sections: its type,
whether it is required, and the description the model gives it.
"""

from __future__ import annotations

import inspect
import os
import sys
import types
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, RootModel

from passage.plugins import LOAD_PACKS, builtin_pack_names

# The reference documents Passage and its own packs, whatever else is installed beside them.
os.environ.setdefault(LOAD_PACKS, ",".join(builtin_pack_names()))

from passage.packmodel import IndicatorFile, PackSpec, sections_of
from passage.plugins import available_packs

OUT = Path(__file__).resolve().parents[1] / "docs" / "pack-yaml.md"
SCALARS = {str: "text", int: "integer", float: "number", bool: "true or false"}


class Writer:
    def __init__(self) -> None:
        self.queue: list[type[BaseModel]] = []
        self.seen: set[type[BaseModel]] = set()

    def type_name(self, t: Any) -> str:
        origin, args = get_origin(t), get_args(t)
        if origin is Annotated:
            return self.type_name(args[0])
        if origin in (Union, types.UnionType):
            return " or ".join(self.type_name(a) for a in args if a is not type(None))
        if origin is Literal:
            return "one of " + ", ".join(f"`{a}`" for a in args)
        if origin is list:
            return f"list of {self.type_name(args[0])}"
        if origin is dict:
            return f"mapping of {self.type_name(args[0])} → {self.type_name(args[1])}"
        if origin is tuple:
            return "[" + ", ".join(self.type_name(a) for a in args) + "]"
        if isinstance(t, type) and issubclass(t, RootModel):
            return self.type_name(t.model_fields["root"].annotation)
        if isinstance(t, type) and issubclass(t, BaseModel):
            if t not in self.seen:
                self.seen.add(t)
                self.queue.append(t)
            return f"[{t.__name__}](#{t.__name__.lower()})"
        return SCALARS.get(t, getattr(t, "__name__", str(t)))

    def table(self, model: type[BaseModel]) -> list[str]:
        rows = ["| key | type | required | description |", "|---|---|---|---|"]
        for name, f in model.model_fields.items():
            rows.append(f"| `{name}` | {self.type_name(f.annotation)} | {'yes' if f.is_required() else 'no'} | "
                        f"{(f.description or '').replace('|', '&#124;')} |")
        return rows

    def models(self) -> list[str]:
        """Every model reached so far, each once, in the order first named."""
        out = []
        while self.queue:
            model = self.queue.pop(0)
            out += [f"### {model.__name__}", "", *_doc(model), *self.table(model), ""]
        return out


def _doc(model: type[BaseModel]) -> list[str]:
    own = model.__dict__.get("__doc__")
    return [inspect.cleandoc(own), ""] if own else []


def render() -> str:
    w = Writer()
    w.seen |= {PackSpec, IndicatorFile}
    parts = ["# pack.yaml", "",
             ("Generated from the model (`passage.packmodel`) by `tools/pack_yaml_docs.py`. A pack's `pack.yaml` is "
             "checked when the pack loads and by `passage packs check PATH`: a key that is not listed here is an "
             "error (with the key it likely meant), and so is a name that refers to nothing (a form, layout, table, "
             "export, indicator or required pack). Every problem of the pack is reported at once, each with its "
             "file and key path."), "",
             ("Text must be quoted where YAML would read it otherwise: `yes`, `no`, `on`, `off` are true or false, "
             "`1.0` a number."), "",
             "## The core's sections", "", *_doc(PackSpec), *w.table(PackSpec), "", *w.models(),
             "## Indicator files", "", *_doc(IndicatorFile), *w.table(IndicatorFile), "", *w.models()]
    for pack in available_packs():
        sections = sections_of(pack)
        if not sections:
            continue
        parts += [f"## The `{pack}` pack's own sections", "",
                  ("Given by its `pack_sections` hook. `records.checks` adds record checks beside the core's "
                  "(under `records.FORM.checks`)."), "", "| key | type | description |", "|---|---|---|"]
        for key, model in sections.items():
            doc = inspect.cleandoc(model.__doc__ or "").split("\n\n")[0].replace("\n", " ")
            parts.append(f"| `{key}` | {w.type_name(model)} | {doc} |")
        parts += ["", *w.models()]
    return "\n".join(parts).rstrip() + "\n"


if __name__ == "__main__":
    text = render()
    if "--check" in sys.argv:
        sys.exit(0 if OUT.read_text(encoding="utf-8") == text else 1)
    OUT.write_text(text, encoding="utf-8")
    print(OUT)
