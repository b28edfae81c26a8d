"""A user's own form, published like a pack's: its dataset, its place link and its indicators.

Every installed form that no pack brings is a dataset named after the form (`passage.releases.list_datasets`):
its records and repeats are its tables (`passage.publish.tables`), HDX metadata comes from the XLSForm's
settings and what the user gives (`passage forms install --dataset-title/--license/--source/--metadata`),
indicators are measures the user adds from a YAML file (`passage indicators add`). Both are kept in the store's
`datasets` row of the form: they belong to the store, not to the code.

A form's records are linked to places by its *place fields*: a field whose XLSForm `hxl` tag is `#adm1+code`,
`#adm2+code`, `#adm3+code` (that level) or `#country+code` (level 0), a field with `passage_place` = yes in
the XLSForm, or a field named `passage_place` (any level). The import checks their P-codes as it checks a
pack's (`passage.checks.places`) and gives each record its `_place_code` (the most specific code given) and
its `_country`, so scopes, releases, maps and `place_level` groupings work as for packs. docs/forms.md,
"Publishing a form", is the user's guide.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

from passage.errors import NotFound, UsageError
from passage.forms.xlsform import Field, Form
from passage.store import Store

COUNTRY = "_country"  # the record's ISO3 country, from its place fields (a column of user forms' record tables)
PLACE_NAME = "passage_place"
# HDX's dataset metadata a user may set (docs/forms.md); `title` and `visibility` beside them.
METADATA_KEYS = ("title", "notes", "source", "organisation", "maintainer", "license", "methodology", "caveats",
                 "update_frequency", "tags")
_STORED = ("form", "measures", "visibility")  # other keys of a user dataset's stored metadata


def place_level(f: Field) -> tuple[bool, int | None]:
    """(is a place field, its admin level or None for any): `#adm2+code` (attributes in any order, any case),
    `#country+code`, `passage_place` = yes, or the name `passage_place`."""
    tag = (f.hxl or "").replace(" ", "").lower()
    if tag.startswith("#"):
        hashtag, *attrs = tag[1:].split("+")
        level = 0 if hashtag == "country" else int(hashtag[3:]) if re.fullmatch(r"adm[0-4]", hashtag) else None
        if level is not None and "code" in attrs:
            return _coded(f, level), level
    if f.place or f.xlsform_name == PLACE_NAME:
        return True, None
    return False, None


_CODE = {0: re.compile(r"^[A-Za-z]{3}$"), None: re.compile(r"^[A-Za-z]{2,3}[0-9]+$")}


def _coded(f: Field, level: int) -> bool:
    """A select field tagged as a place whose choices are not codes (`borno`, `ghana`: names) holds no P-code:
    it does not link records to places (`forms install` says so)."""
    pattern = _CODE[0] if level == 0 else _CODE[None]
    return not f.choices or all(pattern.match(c) for c in f.choices)


def place_notes(form: Form) -> list[str]:
    """Why a field tagged as a place does not link records to places."""
    out = []
    for f in form.fields:
        tag = (f.hxl or "").replace(" ", "").lower()
        if tag.startswith(("#adm", "#country")) and "+code" in tag and not place_level(f)[0]:
            out.append(f"{f.path} is tagged {f.hxl} but its choices are no codes ({', '.join((f.choices or [])[:3])}"
                       ", ...): it does not link records to places (make the choice names P-codes)")
        elif (f.place or f.xlsform_name == PLACE_NAME or tag.startswith(("#adm", "#country"))) and f.repeat:
            out.append(f"{f.path} is a place field inside a repeat: only fields outside repeats link records")
    return out


def place_fields(form: Form) -> list[dict[str, Any]]:
    """The form's top-level place fields: [{"field": storage name, "level": n or None}], most specific first."""
    out = []
    for f in form.top_fields():
        is_place, level = place_level(f)
        if is_place:
            out.append({"field": f.name, "level": level})
    return sorted(out, key=lambda s: -(9 if s["level"] is None else s["level"]))


def link_places(store: Store, form: Form, config: dict[str, Any]) -> tuple[Form, dict[str, Any]]:
    """For an import of a form no pack describes: with place fields, the records' `places` configuration
    (read by `passage.checks.places`) and the `_country` column they are loaded into."""
    specs = place_fields(form)
    if not specs or config.get("places"):
        return form, config
    from passage.forms.registry import record_table
    from passage.records import ensure_columns

    if store.table_exists(record_table(form.form_id)):  # a form installed before user forms carried it
        ensure_columns(store, form.form_id, [(COUNTRY, "VARCHAR")])
    country = Field(COUNTRY, "text", label="Country (ISO 3166 alpha-3)", path=COUNTRY)
    form = dataclasses.replace(form, fields=[*form.fields, country])
    return form, {**config, "places": {"country": COUNTRY, "codes": specs}}


# ---- the dataset of a user's form ---------------------------------------------------------------------------

def _stored(store: Store) -> dict[str, dict[str, Any]]:
    """Form id -> the stored metadata of its user dataset (rows whose metadata names a form)."""
    out = {}
    for name, visibility, meta in store.query("SELECT name, visibility, metadata FROM datasets"):
        data = json.loads(meta or "{}")
        if isinstance(data, dict) and data.get("form"):
            out[data["form"]] = {**data, "visibility": visibility, "name": name}
    return out


def _date_field(form: Form) -> str:
    """The date a record is about: the interview's end or start, else the first date field, else its import."""
    top = {f.xlsform_name: f for f in form.top_fields()}  # `end` is stored as `end_` (an SQL keyword)
    for name in ("end", "start"):
        if name in top and top[name].type in ("dateTime", "datetime"):
            return top[name].name
    dated = [f.name for f in top.values() if f.type in ("date", "dateTime", "datetime", "today")]
    return dated[0] if dated else "_created_at"


def user_datasets(store: Store, taken: set[str], *, unplaced: bool = False) -> list[Any]:
    """A dataset for every installed form no pack brings that has a place field (its name: the form id),
    unless a pack's dataset has that name. A form without one has no country to release: it is no dataset
    (its records are exported to admins all the same: `unplaced=True` lists them too)."""
    from passage.forms.registry import get_form, installed_forms
    from passage.releases import Dataset

    stored = _stored(store)
    out = []
    for form_id in sorted({f["form_id"] for f in installed_forms(store) if not f["pack"]}):
        if form_id in taken:
            continue
        form = get_form(store, form_id)
        if not unplaced and not place_fields(form):
            continue
        meta = stored.get(form_id, {})
        info = {k: meta[k] for k in METADATA_KEYS if k in meta and k != "title"}
        info.setdefault("notes", f"Records of the form {form.title!r} ({form_id}), version {form.version}.")
        info["fields"] = {"country": COUNTRY, "date": _date_field(form)}
        info["user_form"] = True
        measures = [m["name"] for m in meta.get("measures", [])]
        tables = [form_id, *[repeat_table(form_id, form.repeat_xlsform_name(r)) for r in form.repeats]]
        out.append(Dataset(name=form_id, title=meta.get("title") or form.title, form=form_id, pack="",
                           visibility=meta.get("visibility", "public"), metadata=info, indicators=measures,
                           tables=tables))
    return out


def repeat_table(form_id: str, repeat: str) -> str:
    """The published name of a repeat's table: `<form>__<repeat>` (the XLSForm's repeat name), as the store's
    view of it; a name without `/`, so it is one path segment of the portal's download links."""
    return f"{form_id}__{repeat}"


def _write(store: Store, form_id: str, data: dict[str, Any], user: str | None, action: str) -> None:
    from passage.auth import audit
    from passage.store.schema import bump_generation

    visibility = data.pop("visibility", "public")
    data.pop("name", None)
    with store.transaction():
        store.execute("DELETE FROM datasets WHERE name = ?", [form_id])
        store.execute("INSERT INTO datasets VALUES (?, ?, ?)", [form_id, visibility, json.dumps({**data, "form": form_id})])
        audit(store, user, action, target=form_id)
        bump_generation(store)


def _user_form(store: Store, form_id: str) -> Form:
    from passage.forms.registry import get_form

    form = get_form(store, form_id)
    pack = store.scalar("SELECT pack FROM forms WHERE form_id = ? ORDER BY installed_at DESC LIMIT 1", [form_id])
    if pack:
        raise UsageError(f"form {form_id!r} belongs to the pack {pack!r}: its datasets and indicators are the "
                         "pack's (pack.yaml)", code="usage.dataset")
    return form


def set_metadata(store: Store, form_id: str, metadata: dict[str, Any], *, user: str | None = None) -> None:
    """Set the HDX metadata of a user form's dataset (keys: METADATA_KEYS; others are refused by name)."""
    _user_form(store, form_id)
    bad = sorted(set(metadata) - set(METADATA_KEYS))
    if bad:
        raise UsageError(f"unknown dataset metadata {', '.join(bad)} (known: {', '.join(METADATA_KEYS)})",
                         code="usage.dataset")
    for k, v in metadata.items():
        ok = isinstance(v, list) and all(isinstance(t, str) for t in v) if k == "tags" else isinstance(v, str)
        if not ok:
            raise UsageError(f"dataset metadata {k}: {'a list of words' if k == 'tags' else 'text'} expected",
                             code="usage.dataset")
    current = _stored(store).get(form_id, {})
    _write(store, form_id, {**current, **{k: v for k, v in metadata.items() if v not in (None, "", [])}}, user,
           "dataset.metadata")


def read_yaml(path: Path) -> Any:
    """A YAML file, or a UsageError naming the file, line and column of what cannot be read."""
    import yaml

    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise UsageError(f"{Path(path).name}: not UTF-8 text", code="usage.yaml") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        context, cmark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and cmark:  # where the unfinished thing began: "while parsing a flow sequence (line 4)"
            problem += f" ({context}, line {cmark.line + 1}, column {cmark.column + 1})"
        raise UsageError(f"{Path(path).name}{where}: not valid YAML: {problem}", code="usage.yaml") from None


def metadata_file(path: Path) -> dict[str, Any]:
    """Dataset metadata from a small YAML mapping (`title: ...`, `license: ...`)."""
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise UsageError(f"{Path(path).name}: a mapping of dataset metadata expected (title:, license:, ...)",
                         code="usage.dataset")
    return data


# ---- indicators of user forms ---------------------------------------------------------------------------------

def stored_measures(store: Store) -> dict[str, Any]:
    """Every indicator users added to their forms (`passage indicators add`), by name."""
    from passage.measures import parse_measures

    out: dict[str, Any] = {}
    for form_id, meta in sorted(_stored(store).items()):
        for m in parse_measures(meta.get("measures", []), where=f"indicators of {form_id}"):
            out[m.name] = m
    return out


def _item_lines(path: Path) -> list[int]:
    """The line of each indicator in the file (for messages), in order."""
    import yaml

    try:
        node = yaml.compose(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError:
        return []
    if isinstance(node, yaml.MappingNode):
        node = next((v for k, v in node.value if getattr(k, "value", None) == "indicators"), None)
    if not isinstance(node, yaml.SequenceNode):
        return []
    return [item.start_mark.line + 1 for item in node.value]


def _referenced(m: Any) -> list[tuple[str, str]]:
    """(key, field) of every field a measure names."""
    out = [(m.kind, f) for f in m.fields]

    def conds(key: str, cs: list) -> None:
        for c in cs:
            if c.field is not None:
                out.append((key, c.field))
            conds(key, c.any_ or [])

    conds("where", m.where)
    if m.share is not None:
        conds("share.numerator", m.share.numerator)
        conds("share.denominator", m.share.denominator)
    for b in m.by:
        if isinstance(b, str):
            out.append(("by", b))
        elif b.field is not None:
            out.append(("by", b.field))
    return out


NO_PLACE = ("has no place field, so its records have no country to publish: tag the field holding the P-code "
            "with hxl `#adm1+code` or `#adm2+code` (or give it a `passage_place` column saying yes), install the "
            "form again and import again")
SYSTEM_FIELDS = ("_record_id", "_place_code", COUNTRY, "_submission_time", "_uuid", "_created_at", "_import_id")


def add_indicators(store: Store, path: Path, *, user: str | None = None) -> list[Any]:
    """Check a YAML file of measures and store them as indicators of the user forms they name.

    The file is a list of measures, or a mapping with `indicators:` (that list) and `form:` (the form of
    those that name none). Each is checked as a pack's (docs/measures.md), then against its form: the fields
    it names (XLSForm names are taken for their storage names), its expressions, a name no pack indicator
    has. Nothing is stored unless every measure passes; a measure of the same name replaces the stored one."""
    from passage.forms.expr import ExpressionError, to_sql
    from passage.measures import parse_measures, published_measures

    path = Path(path)
    data = read_yaml(path)
    default_form = None
    if isinstance(data, dict):
        extra = sorted(set(data) - {"form", "indicators"})
        if extra or not isinstance(data.get("indicators"), list):
            raise UsageError(f"{path.name}: a list of indicators, or a mapping with `indicators:` (a list) and "
                             f"`form:` expected{' (unknown keys: ' + ', '.join(extra) + ')' if extra else ''}",
                             code="usage.measure")
        default_form, items = data.get("form"), data["indicators"]
    elif isinstance(data, list):
        items = data
    else:
        raise UsageError(f"{path.name}: a list of indicators expected", code="usage.measure")
    if not items:
        raise UsageError(f"{path.name}: no indicators", code="usage.measure")
    lines = _item_lines(path)

    def where(i: int) -> str:
        return f"{path.name}{f' line {lines[i]}' if i < len(lines) else ''}"

    items = [{**({"form": default_form} if default_form and isinstance(it, dict) and "form" not in it else {}),
              **it} if isinstance(it, dict) else it for it in items]
    for i, it in enumerate(items):
        if not isinstance(it, dict):
            raise UsageError(f"{where(i)}: an indicator is a mapping (name:, title:, sum: ...)", code="usage.measure")
    measures = []
    for i, it in enumerate(items):
        measures += parse_measures([it], where=f"{where(i)}: indicators[{i}]")
    names = [m.name for m in measures]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise UsageError(f"{path.name}: the name {twice[0]!r} is used twice", code="usage.measure")
    packs = published_measures()
    stored = _stored(store)
    by_form: dict[str, list[dict]] = {}
    for i, (m, item) in enumerate(zip(measures, items)):
        label = f"{where(i)}: {m.name}"
        if m.name in packs:
            raise UsageError(f"{label}: the pack {packs[m.name].pack!r} has an indicator of that name",
                             code="usage.measure")
        owner = next((f for f, meta in stored.items() if f != m.form
                      and m.name in [x["name"] for x in meta.get("measures", [])]), None)
        if owner:
            raise UsageError(f"{label}: an indicator of form {owner!r} has that name", code="usage.measure")
        if m.derived is not None:
            raise UsageError(f"{label}: derived indicators are for packs; give sum, count, share, ...",
                             code="usage.measure")
        if not m.form:
            raise UsageError(f"{label}: no form (give `form:` in the indicator or at the top of the file)",
                             code="usage.measure")
        try:
            form = _user_form(store, m.form)
        except NotFound:
            raise UsageError(f"{label}: form {m.form!r} is not installed (see `passage forms list`)",
                             code="usage.measure") from None
        storage = {f.name for f in form.top_fields()}
        by_xml = {x: n for x, n in form.by_xlsform_name().items() if form.field(n).repeat is None}
        item = dict(item)
        for key, name in _referenced(m):
            if name in storage or name in SYSTEM_FIELDS:
                continue
            if name in by_xml:
                item = _rename(item, name, by_xml[name])
                continue
            import difflib

            near = difflib.get_close_matches(name, sorted(storage), n=1)
            raise UsageError(f"{label}: {key}: no field {name!r} in form {m.form!r}"
                             + (f" (did you mean {near[0]!r}?)" if near else ""), code="usage.measure")
        types = {f.name: f.type for f in form.top_fields()} | {s: "text" for s in SYSTEM_FIELDS}
        from passage.measures import _expressions

        for e in _expressions(m):
            try:
                to_sql(e, types)
            except ExpressionError as exc:
                raise UsageError(f"{label}: expression {e!r}: {exc.message} (at position {exc.position})",
                                 code="usage.measure") from None
        checked = parse_measures([item], where=label)[0]
        by_form.setdefault(m.form, []).append(checked.model_dump(mode="json", by_alias=True, exclude_defaults=True))
    with store.transaction():
        for form_id, new in by_form.items():
            meta = stored.get(form_id, {})
            keep = [x for x in meta.get("measures", []) if x["name"] not in {n["name"] for n in new}]
            _write(store, form_id, {**meta, "measures": keep + new}, user, "indicators.add")
    return measures


def _rename(item: Any, old: str, new: str) -> Any:
    """The measure's YAML with the field `old` named `new` (an XLSForm name made its storage name)."""
    if isinstance(item, dict):
        return {k: (new if v == old and k in ("field", "sum", "count", "count_distinct", "mean", "min", "max")
                    else _rename(v, old, new)) for k, v in item.items()}
    if isinstance(item, list):
        return [new if v == old else _rename(v, old, new) for v in item]
    return item


def remove_indicator(store: Store, name: str, *, user: str | None = None) -> None:
    for form_id, meta in _stored(store).items():
        kept = [x for x in meta.get("measures", []) if x["name"] != name]
        if len(kept) != len(meta.get("measures", [])):
            _write(store, form_id, {**meta, "measures": kept}, user, "indicators.remove")
            return
    raise NotFound(f"no indicator {name!r} added to a form (pack indicators are the pack's)")
