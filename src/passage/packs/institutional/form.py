"""The questionnaire as its pages show it: questions with labels, hints, choice labels, sections and tags.

Passage's compiled Form keeps what validation needs (types, choices, rules); the pack's XLSForm also
carries what people read (choice labels, hints, section titles) and the extra columns with each
question's tags (`sdg_targets`, `gcm_objectives`, `srf_objective`, `mandatory`). pyxform keeps unknown
columns in its parse tree, so both come from one pyxform parse of the same file.

Labels, hints, section titles and choice labels come in every language the XLSForm translates
(`label::French (fr)`): `Question.text("fr")` and the like give the language asked for, English when a
text is not translated.
"""

from __future__ import annotations

import re
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
    # translations: language code ("fr") -> text; choice_labels: language code -> {choice: label}
    labels: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    hints: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    section_labels: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    choice_labels: dict[str, dict[str, str]] = field(default_factory=dict, compare=False, hash=False)

    def text(self, lang: str | None = None) -> str:
        """The label in this language (a code such as "fr"), else in English."""
        return self.labels.get(lang or "", "") or self.label

    def hint_in(self, lang: str | None = None) -> str:
        return self.hints.get(lang or "", "") or self.hint

    def section_in(self, lang: str | None = None) -> str:
        return self.section_labels.get(lang or "", "") or self.section_label

    def choices_in(self, lang: str | None = None) -> tuple[tuple[str, str], ...]:
        """(name, label) with labels in this language, else English."""
        return tuple((c, self.choice_label(c, lang)) for c, _ in self.choices)

    def choice_label(self, value: str, lang: str | None = None) -> str:
        translated = self.choice_labels.get(lang or "", {}).get(value)
        return translated or dict(self.choices).get(value, value)


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

    def sections(self, lang: str | None = None) -> list[tuple[str, str, list[Question]]]:
        """(name, label in this language, questions) in form order."""
        out: list[tuple[str, str, list[Question]]] = []
        for q in self.questions:
            if not out or out[-1][0] != q.section:
                out.append((q.section, q.section_in(lang), []))
            out[-1][2].append(q)
        return out


def _text(value: Any) -> str:
    if isinstance(value, dict):  # translated labels: English, else the first
        return value.get("English (en)") or value.get("English") or next(iter(value.values()), "")
    return str(value or "")


_LANGUAGE_CODE = re.compile(r"\(([A-Za-z]{2,3}(?:-[A-Za-z0-9]+)?)\)\s*$")


def _translations(value: Any) -> dict[str, str]:
    """XLSForm's translated text ({"French (fr)": ...}) by language code ({"fr": ...})."""
    if not isinstance(value, dict):
        return {}
    out = {}
    for language, text in value.items():
        m = _LANGUAGE_CODE.search(str(language))
        if m and text:
            out[m.group(1).lower()] = str(text)
    return out


def _walk(children: list[dict], section: tuple[str, str, Any], out: list[dict]) -> None:
    for node in children:
        if node.get("type") == "group":
            _walk(node.get("children", []), (node["name"], _text(node.get("label")), node.get("label")), out)
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
    _walk(tree.get("children", []), ("", "", None), nodes)
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
            labels=_translations(node.get("label")), hints=_translations(node.get("hint")),
            section_labels=_translations(node["_section"][2]),
            choice_labels=_choice_translations(listed),
        ))
    return Questionnaire(form, tuple(questions), spec)


def _choice_translations(listed: list[dict]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for c in listed:
        for lang, text in _translations(c.get("label")).items():
            out.setdefault(lang, {})[str(c["name"])] = text
    return out


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
