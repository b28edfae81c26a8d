"""Compile an XLSForm into the typed field list Passage validates and stores by.

pyxform does the parsing (sheets, choices, groups, repeats, bind attributes); we
flatten its tree into fields that remember their group path (how KoboToolbox and
ODK name export columns: `group/field`) and their repeat (exported as its own sheet).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pyxform import xls2json
from pyxform.errors import PyXFormError

from passage.errors import ImportRejected
from passage.findings import Finding, Report

# XLSForm type -> SQL type of its column in the record table.
SQL_TYPES = {
    "integer": "BIGINT",
    "decimal": "DOUBLE",
    "range": "DOUBLE",
    "date": "DATE",
    "dateTime": "TIMESTAMP",
    "datetime": "TIMESTAMP",
}
# Question types with no stored value.
NO_VALUE = {"note", "begin group", "end group", "begin repeat", "end repeat"}
META = {"start", "end", "today", "deviceid", "username", "phonenumber", "audit", "simserial", "subscriberid"}


@dataclass
class Field:
    name: str
    type: str  # integer, decimal, text, date, dateTime, select_one, select_multiple, calculate, geopoint, ...
    label: str = ""
    required: bool = False
    constraint: str | None = None
    constraint_message: str | None = None
    relevant: str | None = None
    calculation: str | None = None
    choices: list[str] | None = None
    path: str = ""  # group path as exported: "household/size"
    repeat: str | None = None  # name of the enclosing repeat, if any

    @property
    def sql_type(self) -> str:
        return SQL_TYPES.get(self.type, "VARCHAR")


@dataclass
class Form:
    form_id: str
    version: str
    title: str
    fields: list[Field]
    sha256: str = ""
    repeats: list[str] = field(default_factory=list)

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    def top_fields(self) -> list[Field]:
        return [f for f in self.fields if f.repeat is None]

    def repeat_fields(self, repeat: str) -> list[Field]:
        return [f for f in self.fields if f.repeat == repeat]

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Form:
        d = json.loads(text)
        d["fields"] = [Field(**f) for f in d["fields"]]
        return cls(**d)


def _label(node: dict) -> str:
    label = node.get("label", "")
    if isinstance(label, dict):  # translated: take English, else the first
        return label.get("English (en)") or label.get("English") or next(iter(label.values()), "")
    return label or ""


def _and(*conditions: str | None) -> str | None:
    """A question inside a group applies only where the group does too."""
    present = [c for c in conditions if c]
    if len(present) <= 1:
        return present[0] if present else None
    return " and ".join(f"({c})" for c in present)


def _flatten(children: list[dict], path: list[str], repeat: str | None, out: list[Field], repeats: list[str],
             choice_lists: dict[str, list[dict]], relevant: str | None = None) -> None:
    for node in children:
        kind = node.get("type", "")
        name = node.get("name", "")
        if kind == "group":
            _flatten(node.get("children", []), path + [name], repeat, out, repeats, choice_lists,
                     _and(relevant, node.get("bind", {}).get("relevant")))
            continue
        if kind == "repeat":
            repeats.append(name)
            _flatten(node.get("children", []), path + [name], name, out, repeats, choice_lists,
                     _and(relevant, node.get("bind", {}).get("relevant")))
            continue
        if kind in NO_VALUE or name in ("meta", "instanceID") or kind in META:
            continue
        bind = node.get("bind", {})
        ftype = {"select one": "select_one", "select all that apply": "select_multiple"}.get(kind, kind)
        choices = None
        if ftype.startswith("select"):  # pyxform 4 puts them in "choices"; older versions in "children"
            listed = node.get("choices") or node.get("children") or choice_lists.get(node.get("itemset") or "", [])
            choices = [str(c["name"]) for c in listed] or None
        out.append(
            Field(
                name=name,
                type=ftype,
                label=_label(node),
                required=str(bind.get("required", "")).lower() in ("yes", "true", "true()"),
                constraint=bind.get("constraint"),
                constraint_message=bind.get("jr:constraintMsg") if isinstance(bind.get("jr:constraintMsg"), str) else None,
                relevant=_and(relevant, bind.get("relevant")),
                calculation=bind.get("calculate"),
                choices=choices,
                path="/".join(path + [name]),
                repeat=repeat,
            )
        )


def compile_xlsform(path: Path, max_bytes: int | None = None) -> Form:
    """Read an XLSForm (.xlsx) into a Form; an invalid form raises ImportRejected(form-invalid), one over
    `max_bytes` (an upload's limit, `limits.upload_bytes.forms`) ImportRejected(file-too-large) unread."""
    from passage.ingest.xlsx import check_workbook

    path = Path(path)
    size = path.stat().st_size
    if max_bytes is not None and size > max_bytes:
        report = Report()
        report.add(Finding("file-too-large", f"{size} bytes is over the limit of {max_bytes}", file=path.name))
        raise ImportRejected(report)
    data = path.read_bytes()
    if data.startswith(b"PK\x03\x04"):  # an .xlsx: its zip directory is checked before pyxform opens it
        problem = check_workbook(path)
        if problem is not None and problem.code == "workbook-too-large":  # unreadable ones: pyxform says why
            report = Report()
            report.add(problem)
            raise ImportRejected(report)
    try:
        tree = xls2json.parse_file_to_json(str(path))
    except (PyXFormError, Exception) as exc:  # pyxform raises several error types on bad sheets
        report = Report()
        report.add(Finding("form-invalid", str(exc).strip()[:500], file=path.name))
        raise ImportRejected(report) from exc
    fields: list[Field] = []
    repeats: list[str] = []
    _flatten(tree.get("children", []), [], None, fields, repeats, tree.get("choices") or {})
    return Form(
        form_id=tree.get("id_string") or path.stem,
        version=str(tree.get("version") or "1"),
        title=tree.get("title") or path.stem,
        fields=fields,
        sha256=hashlib.sha256(data).hexdigest(),
        repeats=repeats,
    )
