"""Compile an XLSForm into the typed field list Passage validates and stores by.

pyxform does the parsing (sheets, choices, groups, repeats, bind attributes); we
flatten its tree into fields that remember their group path (how KoboToolbox and
ODK name export columns: `group/field`) and their repeat (exported as its own sheet).
"""

from __future__ import annotations

import dataclasses
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
    "int": "BIGINT",  # the legacy spelling pyxform still accepts
    "decimal": "DOUBLE",
    "range": "DOUBLE",
    "date": "DATE",
    "dateTime": "TIMESTAMP",
    "datetime": "TIMESTAMP",
}
# Question types with no stored value.
NO_VALUE = {"note", "begin group", "end group", "begin repeat", "end repeat"}
# Meta questions with no stored value; `start` and `end` (when the interview began and ended) are kept as
# dateTime fields: exports carry them, and `today()` in a constraint means the day of `end`.
KEPT_META = {"start", "end"}
META = {"today", "deviceid", "username", "phonenumber", "audit", "simserial", "subscriberid"}


@dataclass
class Field:
    """One question. `name` is the STORAGE name (the column of staging and record tables, a safe SQL
    identifier: see passage.forms.names); `xml_name` the name as written in the XLSForm ("" when the same),
    which users see; `path` the export path with the XLSForm's own names (`household/hh-size`)."""

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
    repeat: str | None = None  # storage name of the enclosing repeat, if any
    xml_name: str = ""  # the XLSForm name when it differs from `name`
    hxl: str | None = None  # the XLSForm's `hxl` column (`#adm1+code`)
    choice_filter: str | None = None  # evaluated per row against the choices' own columns
    parameters: dict[str, str] | None = None  # e.g. range start/end/step
    choice_file: str | None = None  # select_one_from_file / select_multiple_from_file: the CSV's name
    # The choices with their other columns (label and those a choice_filter reads), when a filter or
    # jr:choice-name needs them: [{"name": .., "label": .., "cf": ..}, ...]
    choice_rows: list[dict[str, str]] | None = None
    place: bool = False  # the XLSForm's `passage_place` column says this field holds the record's P-code
    labels: dict[str, str] | None = None  # translated labels by language name as written (`French (fr)`)

    @property
    def sql_type(self) -> str:
        return SQL_TYPES.get(self.type, "VARCHAR")

    @property
    def xlsform_name(self) -> str:
        """The name as the XLSForm writes it (what pages, exports and findings show)."""
        return self.xml_name or self.name


@dataclass
class Form:
    form_id: str
    version: str
    title: str
    fields: list[Field]
    sha256: str = ""
    repeats: list[str] = field(default_factory=list)  # storage names of the repeat groups, outermost first
    repeat_names: dict[str, str] = field(default_factory=dict)  # repeat storage name -> XLSForm name, if other
    repeat_counts: dict[str, str] = field(default_factory=dict)  # repeat storage name -> repeat_count expression
    repeat_paths: dict[str, str] = field(default_factory=dict)  # repeat storage name -> export path

    def field(self, name: str) -> Field:
        """The field of this storage name."""
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    def by_xlsform_name(self) -> dict[str, str]:
        """XLSForm name -> storage name, for the names that are unique in the form (what `${name}` may
        refer to; pyxform refuses an ambiguous one)."""
        seen: dict[str, list[str]] = {}
        for f in self.fields:
            seen.setdefault(f.xlsform_name, []).append(f.name)
        return {k: v[0] for k, v in seen.items() if len(v) == 1}

    def repeat_xlsform_name(self, repeat: str) -> str:
        return self.repeat_names.get(repeat, repeat)

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


def _labels(node: dict) -> dict[str, str] | None:
    """Every translation of a translated label (`label::French (fr)`), by its language as written."""
    label = node.get("label")
    return {str(k): str(v) for k, v in label.items() if v} or None if isinstance(label, dict) else None


def _and(*conditions: str | None) -> str | None:
    """A question inside a group applies only where the group does too."""
    present = [c for c in conditions if c]
    if len(present) <= 1:
        return present[0] if present else None
    return " and ".join(f"({c})" for c in present)


def _flatten(children: list[dict], path: list[str], repeat: str | None, out: list[Field], repeats: list[dict],
             choice_lists: dict[str, list[dict]], relevant: str | None = None) -> None:
    """Fields in form order, named as the XLSForm names them (storage names are given afterwards)."""
    for node in children:
        kind = node.get("type", "")
        name = node.get("name", "")
        if kind == "group":
            _flatten(node.get("children", []), path + [name], repeat, out, repeats, choice_lists,
                     _and(relevant, node.get("bind", {}).get("relevant")))
            continue
        if kind == "repeat":
            count = (node.get("control") or {}).get("jr:count")
            repeats.append({"name": name, "path": "/".join(path + [name]), "groups": list(path),
                            "count": str(count) if count not in (None, "") else None})
            _flatten(node.get("children", []), path + [name], name, out, repeats, choice_lists,
                     _and(relevant, node.get("bind", {}).get("relevant")))
            continue
        if kind in NO_VALUE or name in ("meta", "instanceID") or kind in META:
            continue
        bind = node.get("bind", {})
        ftype = {"select one": "select_one", "select all that apply": "select_multiple"}.get(kind, kind)
        if kind in KEPT_META:
            ftype = "dateTime"
        choices = rows = None
        itemset = node.get("itemset") or ""
        choice_file = itemset if ftype.startswith("select") and "." in itemset else None
        if ftype.startswith("select") and not choice_file:  # pyxform 4: "choices"; older: "children"
            listed = node.get("choices") or node.get("children") or choice_lists.get(itemset, [])
            choices = [str(c["name"]) for c in listed] or None
            rows = [{k: _label(c) if k == "label" else str(v) for k, v in c.items() if isinstance(v, (str, int, float))
                     or k == "label"} for c in listed] or None
        params = node.get("parameters") or None
        out.append(
            Field(
                name=name,
                type=ftype,
                label=_label(node),
                labels=_labels(node),
                required=str(bind.get("required", "")).lower() in ("yes", "true", "true()"),
                constraint=bind.get("constraint"),
                constraint_message=bind.get("jr:constraintMsg") if isinstance(bind.get("jr:constraintMsg"), str) else None,
                relevant=_and(relevant, bind.get("relevant")),
                calculation=bind.get("calculate"),
                choices=choices,
                path="/".join(path + [name]),
                repeat=repeat,
                hxl=node.get("hxl") or None,
                choice_filter=node.get("choice_filter") or None,
                parameters={str(k): str(v) for k, v in params.items()} if isinstance(params, dict) and params else None,
                choice_file=choice_file,
                choice_rows=rows,
                place=str(node.get("passage_place", "")).strip().lower() in ("yes", "true", "1", "true()"),
            )
        )


def _choices_from_file(folder: Path, f: Field) -> None:
    """select_one_from_file: the choices are the CSV that came with the form (its `name` column, or the
    one the field's `value=` parameter names); a missing file leaves the choices unchecked."""
    import csv

    src = folder / str(f.choice_file)
    if not src.is_file() or src.suffix.lower() != ".csv":
        return
    value_col = (f.parameters or {}).get("value", "name")
    label_col = (f.parameters or {}).get("label", "label")
    with src.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        rows = [{("name" if k == value_col else "label" if k == label_col else k): (v or "").strip()
                 for k, v in r.items() if k is not None} for r in reader]
    rows = [r for r in rows if r.get("name")]
    f.choices = [r["name"] for r in rows]
    f.choice_rows = rows


def _storage(fields: list[Field], repeats: list[dict]) -> tuple[list[str], dict[str, str]]:
    """Give every field and repeat its storage name (passage.forms.names); returns the repeats' storage
    names and the map of those whose XLSForm name differs."""
    from passage.forms.names import storage_names

    names = storage_names((f.name, f.path.split("/")[:-1]) for f in fields)
    rnames = storage_names((r["name"], r["groups"]) for r in repeats)
    by_repeat = {r["name"]: n for r, n in zip(repeats, rnames)}
    for f, n in zip(fields, names):
        if n != f.name:
            f.xml_name, f.name = f.name, n
        if f.repeat is not None:
            f.repeat = by_repeat[f.repeat]
    return rnames, {n: r["name"] for r, n in zip(repeats, rnames) if n != r["name"]}


def compile_xlsform(path: Path, max_bytes: int | None = None, report: Report | None = None) -> Form:
    """Read an XLSForm (.xlsx) into a Form; an invalid form raises ImportRejected(form-invalid), one over
    `max_bytes` (an upload's limit, `limits.upload_bytes.forms`) ImportRejected(file-too-large) unread.
    `report`, when given, receives warnings about what of the form imports cannot check
    (passage.checks.form_rules.review_form)."""
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
        report = Report()  # pyxform's whole message: it names the sheet and row
        report.add(Finding("form-invalid", str(exc).strip() or type(exc).__name__, file=path.name))
        raise ImportRejected(report) from exc
    fields: list[Field] = []
    repeats: list[dict] = []
    _flatten(tree.get("children", []), [], None, fields, repeats, tree.get("choices") or {})
    for f in fields:
        if f.choice_file:
            _choices_from_file(path.parent, f)
    named = "jr:choice-name" in json.dumps(tree)
    for f in fields:  # the choices' other columns are kept only where something reads them
        if f.choice_rows and not (f.choice_filter or named):
            f.choice_rows = None
    rnames, rmap = _storage(fields, repeats)
    form = Form(
        form_id=tree.get("id_string") or path.stem,
        version=str(tree.get("version") or "1"),
        title=tree.get("title") or path.stem,
        fields=fields,
        sha256=hashlib.sha256(data).hexdigest(),
        repeats=rnames,
        repeat_names=rmap,
        repeat_counts={n: r["count"] for r, n in zip(repeats, rnames) if r["count"]},
        repeat_paths={n: r["path"] for r, n in zip(repeats, rnames)},
    )
    if report is not None:
        from passage.checks.form_rules import review_form

        for finding in review_form(form):
            report.add(dataclasses.replace(finding, file=path.name))
    return form
