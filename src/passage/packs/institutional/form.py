"""The questionnaire as its pages show it: questions with labels, hints, choice labels, sections and tags.

Passage's compiled Form keeps what validation needs (types, choices, rules); the pack's XLSForm also
carries what people read (choice labels, hints, section titles) and the extra columns with each
question's tags (`sdg_targets`, `gcm_objectives`, `srf_objective`, `mandatory`). pyxform keeps unknown
columns in its parse tree, so both come from one pyxform parse of the same file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import duckdb
from pyxform import xls2json

from passage.forms import Form
from passage.forms.expr import ExpressionError, to_sql
from passage.plugins import load_pack

PACK = "institutional"
FORM_ID = "institutional_questionnaire"
KEYS = ("office", "year")  # identify a questionnaire; not questions


@dataclass(frozen=True)
class Question:
    name: str
    type: str  # text, integer, select_one, select_multiple, ...
    label: str
    hint: str = ""
    section: str = ""  # the enclosing group's name
    section_label: str = ""
    choices: tuple[tuple[str, str], ...] = ()  # (name, label)
    relevant: str | None = None
    constraint: str | None = None
    mandatory: bool = True  # to be answered, where it applies, before submitting
    sdg_targets: tuple[str, ...] = ()
    gcm_objectives: tuple[int, ...] = ()
    srf_objective: str = ""

    def choice_label(self, value: str) -> str:
        return dict(self.choices).get(value, value)


@dataclass(frozen=True)
class Questionnaire:
    form: Form
    questions: tuple[Question, ...]
    spec: dict[str, Any] = field(hash=False, compare=False)

    def question(self, name: str) -> Question:
        for q in self.questions:
            if q.name == name:
                return q
        from passage.errors import NotFound

        raise NotFound(f"the questionnaire has no question {name!r}")

    def sections(self) -> list[tuple[str, str, list[Question]]]:
        """(name, label, questions) in form order."""
        out: list[tuple[str, str, list[Question]]] = []
        for q in self.questions:
            if not out or out[-1][0] != q.section:
                out.append((q.section, q.section_label, []))
            out[-1][2].append(q)
        return out


def _text(value: Any) -> str:
    if isinstance(value, dict):  # translated labels: English, else the first
        return value.get("English (en)") or value.get("English") or next(iter(value.values()), "")
    return str(value or "")


def _walk(children: list[dict], section: tuple[str, str], out: list[dict]) -> None:
    for node in children:
        if node.get("type") == "group":
            _walk(node.get("children", []), (node["name"], _text(node.get("label"))), out)
        elif node.get("name") not in ("meta", None):
            out.append(node | {"_section": section})


def _yes(value: Any, default: bool) -> bool:
    text = str(value or "").strip().lower()
    return default if not text else text in ("yes", "true", "1")


@cache
def load_questionnaire() -> Questionnaire:
    """The pack's questionnaire (parsed once per process)."""
    pack = load_pack(PACK)
    spec = pack_spec()
    form = pack.forms[spec["form"]]
    path = next(p for p in (pack.path / "forms").glob("*.xlsx") if p.stem == spec["form"])
    tree = xls2json.parse_file_to_json(str(path))
    tags = spec.get("tags", {})
    nodes: list[dict] = []
    _walk(tree.get("children", []), ("", ""), nodes)
    by_name = {f.name: f for f in form.fields}
    questions = []
    for node in nodes:
        f = by_name.get(node.get("name"))
        if f is None or f.name in KEYS:
            continue
        listed = node.get("choices") or (tree.get("choices") or {}).get(node.get("itemset") or "", [])
        questions.append(Question(
            name=f.name, type=f.type, label=f.label or _text(node.get("label")), hint=_text(node.get("hint")),
            section=node["_section"][0], section_label=node["_section"][1],
            choices=tuple((str(c["name"]), _text(c.get("label"))) for c in listed),
            relevant=f.relevant, constraint=f.constraint, mandatory=_yes(node.get(tags.get("mandatory", "")), True),
            sdg_targets=tuple(str(node.get(tags.get("sdg", ""), "") or "").split()),
            gcm_objectives=tuple(int(x) for x in str(node.get(tags.get("gcm", ""), "") or "").split()),
            srf_objective=str(node.get(tags.get("srf", ""), "") or "").strip(),
        ))
    return Questionnaire(form, tuple(questions), spec)


def pack_spec() -> dict[str, Any]:
    """The `questionnaire:` section of the pack's pack.yaml."""
    import yaml

    path = Path(load_pack(PACK).path) / "pack.yaml"
    return yaml.safe_load(path.read_text(encoding="utf-8"))["questionnaire"]


def as_text(question: Question | None, value: Any) -> str | None:
    """An answer as the text a record holds (select_multiple: space-separated choices)."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        text = " ".join(str(v).strip() for v in value if str(v).strip())
    else:
        text = str(value).strip()
    return text or None


def relevance(qn: Questionnaire, answers: dict[str, Any]) -> dict[str, bool]:
    """Which questions apply, given these answers: each `relevant` rule compiled by the same expression
    engine the import checks use, evaluated on one row."""
    types = {f.name: f.type for f in qn.form.fields}
    rules = {q.name: q.relevant for q in qn.questions if q.relevant}
    out = {q.name: True for q in qn.questions}
    if not rules:
        return out
    names = [f.name for f in qn.form.fields]
    con = duckdb.connect()
    try:
        cols = ", ".join(f'CAST(? AS VARCHAR) AS "{n}"' for n in names)
        con.execute(f"CREATE TEMP TABLE answers AS SELECT {cols}", [as_text(None, answers.get(n)) for n in names])
        exprs = []
        for name, rule in rules.items():
            try:
                exprs.append(f"coalesce(({to_sql(rule, types, self_field=name)}), false)")
            except ExpressionError:
                exprs.append("true")  # the form's own check reports a broken rule
        row = con.execute(f"SELECT {', '.join(exprs)} FROM answers").fetchone()
    finally:
        con.close()
    out.update(dict(zip(rules, (bool(v) for v in row))))
    return out
