"""pack.yaml as a typed model, checked when a pack loads.

A pack.yaml holds the core's sections, modelled here (`PackSpec`), and the pack's own, whose models the pack
gives through the `pack_sections` hook. A key that neither knows is an error, so a misspelt key never passes
as "not set". `read_pack_yaml` checks a file's form, the files it lists (forms compiled, indicator files
checked like it) and what its names refer to (forms, layouts, exports, indicators, required packs), then
returns the file's content unchanged. Every problem of a pack is raised at once in one `PackError`, each
located by file and key path (`datasets.NAME.map.indicatr`), a misspelt name with the one it likely meant.
"""

from __future__ import annotations

import difflib
import types
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
    StrictInt,
    StrictStr,
    ValidationError,
    ValidationInfo,
    create_model,
)
from yaml import CSafeLoader

from passage.errors import ImportRejected, PackError
from passage.measures import Comparison, Measure
from passage.releases import VISIBILITIES

# ---- the model --------------------------------------------------------------------------------------------

Text = StrictStr  # YAML reads `yes`, `no`, `on`, `1.0` as booleans and numbers: names and texts must be quoted then
Names = list[StrictStr]


class Section(BaseModel):
    """A part of a pack file: unknown keys are errors, values are not coerced (YAML's `yes` is no text)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class PlaceLevel(Section):
    code: Text = Field(description="Form field holding the P-code at this admin level.")
    name: Text | None = Field(None, description="Form field holding the place's name as the provider gives it.")
    provider: Text | None = Field(None, description="Field that keeps the provider's own code when the check "
                                                    "normalises it to the common operational dataset's length.")


class OptionalPlace(Section):
    code: Text = Field(description="Form field that may hold a P-code (e.g. an area of origin).")
    level: StrictInt = Field(description="Admin level the code must have when it is given.")
    provider: Text | None = Field(None, description="Field that keeps the provider's own code when normalised.")


class Places(Section):
    """How a form's records are tied to places: the place check resolves and normalises each code."""

    country: Text = Field(description="Form field holding the ISO 3166 alpha-3 country code.")
    level_field: Text = Field(description="Form field holding the admin level of the record's place.")
    levels: dict[StrictInt, PlaceLevel] = Field(
        default_factory=dict, description="Admin level -> the fields of the place at that level, parent first.")
    optional: list[OptionalPlace] = Field(
        default_factory=list, description="Further codes, checked at their level when they are given.")


class PartsWithinTotal(Section):
    parts: Names = Field(description="Fields whose sum may not exceed the total.")
    total: Text = Field(description="The field holding the total.")


class Checks(Section):
    """The core's row checks (`passage.checks`); a pack adds its own through `pack_sections()["records.checks"]`."""

    non_negative: Names | None = Field(None, description="Numeric fields that may not be below zero.")
    parts_within_total: PartsWithinTotal | None = Field(None, description="Parts that may not add up to more "
                                                                          "than their total.")
    not_in_future: Names | None = Field(None, description="Date fields that may not lie after today.")


class RecordConfig(Section):
    """What makes a record of one form: its key, its places, its checks."""

    key: Names = Field(description="Fields that identify a record: a second row with the same key is a new "
                                   "version (with --update) or a duplicate.")
    places: Places | None = Field(None, description="How records are tied to places; without it, records name "
                                                    "their place themselves.")
    checks: Checks | None = Field(None, description="Row checks run on every import and edit.")


LayoutColumn = tuple[Text, Text, Text]


class Export(Section):
    """A published table (`passage export NAME`) laid out as a provider publishes it."""

    title: Text = Field(description="What `passage export` and the portal call the table.")
    form: Text = Field(description="The form whose current records the table holds.")
    layout: Text = Field(description="The layout (under `layouts`) giving its columns and HXL hashtags.")
    order: Names = Field(default_factory=list, description="Fields the rows are sorted by.")
    hxl_schema: list[dict[Text, Text]] = Field(
        default_factory=list, description="libhxl schema rows (`#valid_tag`, `#valid_required`, ...) the HXL "
                                          "output must pass with `--validate`.")


class DatasetFields(Section):
    """Form fields behind the API's and the portal's filters, maps and charts."""

    country: Text | None = Field(None, description="Field holding the country code (filters, releases).")
    country_name: Text | None = Field(None, description="Field holding the country's name.")
    level: Text | None = Field(None, description="Field holding the admin level.")
    round: Text | None = Field(None, description="Field holding the assessment round.")
    date: Text | None = Field(None, description="Field holding the record's date (date filters, periods).")
    place_name: dict[StrictInt, Text] | None = Field(None, description="Admin level -> field holding the name "
                                                                       "of the place at that level.")


class CountryMap(Section):
    indicator: Text = Field(description="The indicator the country page maps by default.")
    choices: Names = Field(default_factory=list, description="Indicators a reader may switch the map to.")
    levels: list[StrictInt] = Field(default_factory=list, description="Admin levels the map can show.")


class Series(Section):
    indicator: Text = Field(description="The indicator the country page charts over rounds.")
    level: StrictInt | None = Field(None, description="Admin level of the rows the chart sums.")
    split: Text | None = Field(None, description="Field giving one line per value.")
    over: Text | None = Field(None, description="A date key of an indicator with `latest`: the chart shows the "
                                                "indicator as it stood at each of its dates, so its last point is "
                                                "the figure the indicator gives today.")


class Dataset(Section):
    """A dataset the portal lists, with the metadata HDX requires (`dataset_date` and `locations` are
    computed from the records)."""

    title: Text = Field(description="The dataset's title.")
    form: Text = Field(description="The form whose records the dataset presents.")
    export: Text | None = Field(None, description="The export (under `exports`) that publishes it.")
    visibility: Literal[VISIBILITIES] = Field(  # type: ignore[valid-type]
        "public", description="Who may read it until a store sets otherwise: public or restricted.")
    notes: Text = Field(description="HDX description: what the figures are.")
    source: Text = Field(description="HDX source: who collected the data.")
    organisation: Text = Field(description="HDX organisation publishing the dataset.")
    maintainer: Text = Field(description="HDX maintainer: who answers questions about it.")
    update_frequency: Text = Field(description="HDX expected update frequency, in words.")
    license: Text = Field(description="HDX licence, in words.")
    methodology: Text | None = Field(None, description="HDX methodology: how the data was collected.")
    caveats: Text | None = Field(None, description="HDX caveats: what a reader should know before use.")
    tags: Names = Field(default_factory=list, description="HDX tags.")
    indicators: Names = Field(default_factory=list, description="Indicators of the pack computed over it.")
    tables: Names = Field(default_factory=list, description="Tables offered for download: exports or derived "
                                                            "tables (`published_tables` hook).")
    fields: DatasetFields = Field(default_factory=DatasetFields, description="Form fields behind filters, maps "
                                                                             "and charts.")
    map: CountryMap | None = Field(None, description="The country page's map; the first dataset in pack order "
                                                     "that has one makes the portal's country pages.")
    series: Series | None = Field(None, description="The country page's chart over rounds.")
    columns: Names = Field(default_factory=list, description="The fields a records page shows by default, in "
                                                             "order, key figures first (else every field); "
                                                             "readers may choose others.")
    country_page: Text | None = Field(None, description="The pack's own page about a country, with `{code}` "
                                                        "for its code (else the portal's country page).")


class PackSpec(Section):
    """The core's sections of a pack.yaml; a pack adds its own through the `pack_sections` hook."""

    name: Text = Field(description="The pack's name, as its entry point under `passage.packs` names it.")
    title: Text = Field(description="The pack's title, as `passage packs list` shows it.")
    requires: Names = Field(default_factory=list, description="Installed packs this one builds on: they load "
                                                              "(and seed their demo) first, and only they may be "
                                                              "imported by its code.")
    forms: Names = Field(default_factory=list, description="XLSForm files, relative to pack.yaml.")
    indicators: Names = Field(default_factory=list, description="Indicator files, relative to pack.yaml "
                                                                "(see *Indicator files* below).")
    records: dict[Text, RecordConfig] = Field(default_factory=dict, description="Form id -> what makes a record "
                                                                                "of it.")
    layouts: dict[Text, list[LayoutColumn]] = Field(
        default_factory=dict, description="Provider layouts: a list of [column, form field, HXL hashtag], the "
                                          "hashtag empty for a column published without one.")
    exports: dict[Text, Export] = Field(default_factory=dict, description="Published tables by name.")
    datasets: dict[Text, Dataset] = Field(default_factory=dict, description="Portal datasets by name.")
    measures: list[Measure] = Field(default_factory=list, description="Figures the pack computes beside its "
                                                                      "indicators (passage.measures).")
    comparisons: list[Comparison] = Field(default_factory=list, description="Consistency checks between "
                                                                            "measures (passage.measures).")
    on_error: Literal["reject", "quarantine"] = Field(
        "reject", description="What rows with errors do in an import of the pack's importers when the command "
                              "does not say (`--on-error`): `reject` the whole file, or `quarantine` them (kept "
                              "aside for `passage quarantine`) and load the others. Problems of the file itself "
                              "always reject it.")


class IndicatorFile(Section):
    """A file listed under a pack's `indicators`."""

    indicators: list[Measure] = Field(description="The indicators the file defines: measures (passage.measures).")


def _answer(pack: str, hook: str) -> dict[str, Any] | None:
    """An installed pack's own answer to `hook`; None for a pack that is not installed or lacks the hook."""
    from passage.plugins import manager

    impl = getattr(manager().get_plugin(pack), hook, None)
    return dict(impl() or {}) if impl is not None else None


def sections_of(pack: str) -> dict[str, type[BaseModel]]:
    """The pack's own sections (`pack_sections` hook); {} for a pack that is not installed."""
    return _answer(pack, "pack_sections") or {}


@cache
def _pack_model(sections: tuple[tuple[str, type[BaseModel]], ...]) -> type[PackSpec]:
    own = dict(sections)
    extra_checks = own.pop("records.checks", None)
    if extra_checks is None:
        return create_model("PackYaml", __base__=PackSpec, **{k: (m, ...) for k, m in own.items()})
    checks = create_model("PackChecks", __base__=(Checks, extra_checks))
    record = create_model("PackRecordConfig", __base__=RecordConfig,
                          checks=(checks | None, Field(None, description=RecordConfig.model_fields["checks"].description)))
    return create_model("PackYaml", __base__=PackSpec, **{k: (m, ...) for k, m in own.items()},
                        records=(dict[Text, record], Field(default_factory=dict)))


def pack_model(pack: str) -> type[PackSpec]:
    """The model of a pack's pack.yaml: the core's sections and the pack's own."""
    return _pack_model(tuple(sorted(sections_of(pack).items())))


# ---- references: helpers for section models ------------------------------------------------------------------

def suggest(name: object, known: Any) -> str:
    """"; did you mean `x`?" for a name close to a known one, else the names known (when few)."""
    known = sorted(str(k) for k in known)
    close = difflib.get_close_matches(str(name), known, n=1, cutoff=0.6)
    if close:
        return f"; did you mean `{close[0]}`?"
    if known and len(known) <= 12:
        return f" (known: {', '.join(known)})"
    return ""


def refers_to(kind: str, value: str, info: ValidationInfo) -> str:
    """A field validator's check that `value` names one of the pack's `kind` ("forms", "layouts", "exports",
    "indicators"); passes when the names are not known (a file checked alone)."""
    known = (info.context or {}).get(kind)
    if known is not None and value not in known:
        raise ValueError(f"no {kind[:-1]} `{value}` in this pack{suggest(value, known)}")
    return value


def beside_pack(value: str, info: ValidationInfo) -> str:
    """A field validator's check that `value` is a file relative to pack.yaml that exists."""
    folder = (info.context or {}).get("folder")
    if folder is not None and not (Path(folder) / value).is_file():
        raise ValueError(f"no file `{value}` beside pack.yaml")
    return value


# ---- locating pydantic's errors ----------------------------------------------------------------------------

@dataclass(frozen=True)
class PackProblem:
    """One problem of a pack file: where it is and what is wrong."""

    file: str
    path: str  # key path in the file: `datasets.NAME.map.indicator`, `rules[3].operator`; "" for the whole file
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.path}: {self.message}" if self.path else f"{self.file}: {self.message}"


def key_path(parts: list[Any]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) and not isinstance(p, bool) and out else f".{p}" if out else str(p)
    return out


def _flat(t: Any) -> list[Any]:
    """A type's alternatives, Annotated and None left out."""
    origin = get_origin(t)
    if origin is Annotated:
        return _flat(get_args(t)[0])
    if origin in (Union, types.UnionType):
        return [x for a in get_args(t) for x in _flat(a)]
    return [] if t is type(None) else [t]


def _child(t: Any, part: Any) -> Any:
    """The type of `part` inside a value of type `t` (a key of a model or a dict, an index of a list)."""
    for alt in _flat(t):
        origin = get_origin(alt)
        if isinstance(alt, type) and issubclass(alt, RootModel):
            return _child(alt.model_fields["root"].annotation, part)
        if isinstance(alt, type) and issubclass(alt, BaseModel) and part in alt.model_fields:
            return alt.model_fields[part].annotation
        if origin is dict:
            return get_args(alt)[1]
        if origin is list:
            return get_args(alt)[0]
        if origin is tuple and isinstance(part, int) and part < len(get_args(alt)):
            return get_args(alt)[part]
    return None


def _keys_of(t: Any) -> list[str]:
    keys: list[str] = []
    for alt in _flat(t):
        if isinstance(alt, type) and issubclass(alt, RootModel):
            keys += _keys_of(alt.model_fields["root"].annotation)
        elif isinstance(alt, type) and issubclass(alt, BaseModel):
            keys += list(alt.model_fields)
    return keys


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"{str(value).lower()} (YAML reads yes, no, on and off as true or false: quote them to mean text)"
    if isinstance(value, (dict, list)):
        return "a mapping" if isinstance(value, dict) else "a list"
    return repr(value)


def problems_of(exc: ValidationError, file: str, data: Any, model: type[BaseModel]) -> list[PackProblem]:
    """pydantic's errors as located problems: key paths of the file (a union's or a validator's own labels
    left out), a misspelt key with the key it likely meant, one problem per place."""
    out: dict[str, list[str]] = {}
    for err in exc.errors():
        node, typ, path = data, model, []
        loc = list(err["loc"])
        for i, part in enumerate(loc):
            if isinstance(node, dict) and part in node or isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                node, typ = node[part], _child(typ, part)
            elif err["type"] == "missing" and i == len(loc) - 1:
                pass
            else:
                continue  # a union member's or validator's label, not a key of the file
            path.append(part)
        if err["type"] == "extra_forbidden":
            parent = model
            for part in path[:-1]:
                parent = _child(parent, part)
            message = f"unknown key `{path[-1]}`{suggest(path[-1], _keys_of(parent))}"
        elif err["type"] == "missing":
            message = f"item {path[-1] + 1} is missing" if isinstance(path[-1], int) else \
                f"required key `{path[-1]}` is missing"
        elif err["type"] in ("value_error", "assertion_error"):
            message = str(err["ctx"]["error"]) if "ctx" in err else err["msg"]
        else:
            message = f"{err['msg']}, not {_describe(err.get('input'))}"
        where = key_path(path)
        if message not in out.setdefault(where, []):
            out[where].append(message)
    return [PackProblem(file, where, " / ".join(messages)) for where, messages in out.items()]


# ---- reading and checking ----------------------------------------------------------------------------------

def _load(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PackError([PackProblem(str(path), "", f"cannot be read: {exc}")]) from None
    try:
        return yaml.load(text, Loader=CSafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise PackError([PackProblem(str(path), "", f"not YAML: {where}{getattr(exc, 'problem', None) or exc}")]) \
            from None


def _validated(path: Path, model: type[BaseModel], context: dict[str, Any] | None = None) -> tuple[Any, list[PackProblem]]:
    data = _load(path)
    if not isinstance(data, dict):
        return data, [PackProblem(str(path), "", f"must be a mapping of keys, not {_describe(data)}")]
    try:
        model.model_validate(data, context=context)
    except ValidationError as exc:
        return data, problems_of(exc, str(path), data, model)
    return data, []


def _listed(data: dict[str, Any], key: str) -> list[tuple[int, str]]:
    value = data.get(key)
    return [(i, v) for i, v in enumerate(value) if isinstance(v, str)] if isinstance(value, list) else []


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


@dataclass
class CheckedPack:
    """A pack.yaml that passed: its content, its compiled forms by id, its indicators by name."""

    path: Path
    spec: dict[str, Any]
    forms: dict[str, Any] = field(default_factory=dict)
    indicators: dict[str, dict[str, Any]] = field(default_factory=dict)


def _pack_file(path: Path) -> Path:
    path = Path(path)
    return path / "pack.yaml" if path.is_dir() else path


def checked_pack(path: Path) -> CheckedPack:
    """Check a pack.yaml and what it lists; raise one PackError with every problem found."""
    from passage.forms import compile_xlsform
    from passage.plugins import pack_dirs

    path = _pack_file(path)
    file, folder = str(path), path.parent
    data = _load(path)
    if not isinstance(data, dict):
        raise PackError([PackProblem(file, "", f"must be a mapping of keys, not {_describe(data)}")])
    problems: list[PackProblem] = []
    forms: dict[str, Any] = {}
    compiled = True  # every listed form compiled: else names of forms are not checked (its id is unknown)
    for i, rel in _listed(data, "forms"):
        if not (folder / rel).is_file():
            problems.append(PackProblem(file, f"forms[{i}]", f"no file `{rel}` beside pack.yaml"))
            compiled = False
            continue
        try:
            form = compile_xlsform(folder / rel)
        except ImportRejected as exc:
            problems += [PackProblem(file, f"forms[{i}]", f"`{rel}` is not a valid XLSForm: {f.code}: {f.message}")
                         for f in exc.report.errors]
            compiled = False
            continue
        forms[form.form_id] = form
    indicators: dict[str, dict[str, Any]] = {}
    for i, rel in _listed(data, "indicators"):
        if not (folder / rel).is_file():
            problems.append(PackProblem(file, f"indicators[{i}]", f"no file `{rel}` beside pack.yaml"))
            continue
        try:
            content, found = _validated(folder / rel, IndicatorFile)
        except PackError as exc:
            problems += exc.problems
            continue
        problems += found
        for j, spec in enumerate(_mapping(content).get("indicators") or []):
            if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
                continue
            where = PackProblem(str(folder / rel), f"indicators[{j}]", "")
            if spec["name"] in indicators:
                problems.append(PackProblem(where.file, where.path + ".name", f"indicator `{spec['name']}` is "
                                                                                "defined twice in this pack"))
            indicators[spec["name"]] = spec
            if compiled and isinstance(spec.get("form"), str) and spec["form"] not in forms:
                problems.append(PackProblem(where.file, where.path + ".form",
                                            f"no form `{spec['form']}` in this pack{suggest(spec['form'], forms)}"))
    dirs = pack_dirs()
    name = data.get("name") if isinstance(data.get("name"), str) else ""
    derived = _answer(name, "published_tables") if name in dirs else None  # unknown for a pack not installed
    exports = set(_mapping(data.get("exports")))
    context = {"forms": set(forms) if compiled else None, "indicators": set(indicators), "folder": folder,
               "layouts": set(_mapping(data.get("layouts"))), "exports": exports,
               "tables": None if name not in dirs else exports | set(derived or {}),
               "measures": set(indicators) | {m["name"] for m in data.get("measures") or []
                                              if isinstance(m, dict) and isinstance(m.get("name"), str)}}
    model = pack_model(name)
    try:
        model.model_validate(data, context=context)
    except ValidationError as exc:
        problems += problems_of(exc, file, data, model)
    problems += _references(file, data, context, set(dirs))
    if compiled:
        problems += _condition_values(file, data, forms)
    installed_as = next((n for n, d in dirs.items() if d.resolve() == folder.resolve()), None)
    if installed_as and name and name != installed_as:
        problems.append(PackProblem(file, "name", f"the pack is installed as `{installed_as}`: name it so"))
    if name not in dirs and any(p.path in data and p.message.startswith("unknown key") for p in problems):
        problems.append(PackProblem(file, "", f"pack `{name}` is not installed, so its own sections (its "
                                              "`pack_sections` hook) are not known: install it to check them"))
    if problems:
        raise PackError(problems)
    return CheckedPack(path=path, spec=data, forms=forms, indicators=indicators)


def _references(file: str, data: dict[str, Any], context: dict[str, Any], installed: set[str]) -> list[PackProblem]:
    """Names of the core's sections that must name something of the pack (or an installed pack)."""
    out = []

    def ref(path: str, kind: str, value: Any) -> None:
        known = installed if kind == "packs" else context[kind]
        if known is not None and isinstance(value, str) and value not in known:
            where = "installed" if kind == "packs" else "in this pack"
            out.append(PackProblem(file, path, f"no {kind[:-1]} `{value}` {where}{suggest(value, known)}"))

    for i, dep in _listed(data, "requires"):
        ref(f"requires[{i}]", "packs", dep)
    for form_id in _mapping(data.get("records")):
        ref(f"records.{form_id}", "forms", form_id)
    for name, spec in _mapping(data.get("exports")).items():
        spec = _mapping(spec)
        ref(f"exports.{name}.form", "forms", spec.get("form"))
        ref(f"exports.{name}.layout", "layouts", spec.get("layout"))
    for name, spec in _mapping(data.get("datasets")).items():
        spec = _mapping(spec)
        at = f"datasets.{name}"
        ref(f"{at}.form", "forms", spec.get("form"))
        ref(f"{at}.export", "exports", spec.get("export"))
        for i, ind in _listed(spec, "indicators"):
            ref(f"{at}.indicators[{i}]", "indicators", ind)
        for i, table in _listed(spec, "tables"):
            ref(f"{at}.tables[{i}]", "tables", table)
        ref(f"{at}.map.indicator", "indicators", _mapping(spec.get("map")).get("indicator"))
        for i, ind in _listed(_mapping(spec.get("map")), "choices"):
            ref(f"{at}.map.choices[{i}]", "indicators", ind)
        ref(f"{at}.series.indicator", "indicators", _mapping(spec.get("series")).get("indicator"))
    return out


def _condition_values(file: str, data: dict[str, Any], forms: dict[str, Any]) -> list[PackProblem]:
    """A condition of a `measures:` entry over one of the pack's forms compares a question with a value it can
    hold: an unquoted yes or no is YAML's true or false, never a choice or a text."""
    out = []

    def visit(path: str, conditions: Any, types: dict[str, str]) -> None:
        for j, c in enumerate(conditions if isinstance(conditions, list) else []):
            c = _mapping(c)
            visit(f"{path}[{j}].any", c.get("any"), types)
            kind = types.get(c.get("field")) if isinstance(c.get("field"), str) else None
            if kind is None or kind == "boolean":
                continue
            for key in ("equals", "in"):
                values = c.get(key) if isinstance(c.get(key), list) else [c.get(key)]
                if key in c and any(isinstance(v, bool) for v in values):
                    out.append(PackProblem(file, f"{path}[{j}].{key}", f"{c['field']} is a {kind} question, not "
                                                                        f"{_describe(next(v for v in values if isinstance(v, bool)))}"))

    for i, spec in enumerate(data.get("measures") if isinstance(data.get("measures"), list) else []):
        spec = _mapping(spec)
        form = forms.get(spec.get("form")) if isinstance(spec.get("form"), str) else None
        if form is None:
            continue
        types = {f.name: f.type for f in form.fields}
        visit(f"measures[{i}].where", spec.get("where"), types)
        for side in ("numerator", "denominator"):
            visit(f"measures[{i}].share.{side}", _mapping(spec.get("share")).get(side), types)
    return out


def read_pack_yaml(path: Path, part: str = "pack") -> dict[str, Any]:
    """The file's content, once checked; `part` is "pack" (a pack.yaml, with the files it lists and the names
    it refers to) or "indicators" (a file a pack.yaml lists under `indicators`)."""
    path = Path(path)
    if part == "indicators":
        data, problems = _validated(path, IndicatorFile)
        if problems:
            raise PackError(problems)
        return data
    if part != "pack":
        raise ValueError(f"part is 'pack' or 'indicators', not {part!r}")
    return checked_pack(path).spec


# ---- the library calls behind `passage packs` ----------------------------------------------------------------

@dataclass
class PackInfo:
    """An installed pack as `passage packs list` shows it."""

    name: str
    title: str
    version: str  # of the distribution that registers it
    distribution: str
    folder: Path
    forms: list[str]
    import_kinds: list[str]


def installed_packs() -> list[PackInfo]:
    """Every installed pack, each after the packs it requires."""
    from passage.plugins import GROUP, available_packs, load_pack, manager

    dists = {ep.name: ep.dist for ep in entry_points(group=GROUP)}
    out = []
    for name in available_packs():
        pack, plugin = load_pack(name), manager().get_plugin(name)
        dist = dists.get(name)
        kinds = getattr(plugin, "importers", None)
        out.append(PackInfo(name=name, title=pack.title, version=dist.version if dist else "",
                            distribution=dist.metadata["Name"] if dist else "", folder=pack.path,
                            forms=sorted(pack.forms), import_kinds=sorted(kinds() if kinds else [])))
    return out


@dataclass
class PackSummary:
    """What `passage packs check` found in a pack that passed."""

    name: str
    title: str
    path: Path
    forms: dict[str, int]  # form id -> number of fields
    indicators: list[str]
    exports: list[str]
    datasets: list[str]
    sections: list[str]  # the pack's own sections

    def lines(self) -> list[str]:
        return [f"pack {self.name}: {self.title} ({self.path})",
                f"  forms: {', '.join(f'{k} ({n} fields)' for k, n in self.forms.items()) or 'none'}",
                f"  indicators: {', '.join(self.indicators) or 'none'}",
                f"  exports: {', '.join(self.exports) or 'none'}",
                f"  datasets: {', '.join(self.datasets) or 'none'}",
                f"  own sections: {', '.join(self.sections) or 'none'}"]


def check_pack(path: Path) -> PackSummary:
    """Check a pack folder (or its pack.yaml): the file, its forms compiled, its indicator files, its references.
    Raises PackError with every problem found."""
    path = _pack_file(Path(path))
    if not path.is_file():
        raise PackError([PackProblem(str(path), "", "no such file (give a pack folder or its pack.yaml)")])
    found = checked_pack(path)
    spec = found.spec
    core = set(PackSpec.model_fields)
    return PackSummary(name=spec["name"], title=spec["title"], path=path,
                       forms={k: len(f.fields) for k, f in found.forms.items()}, indicators=list(found.indicators),
                       exports=list(spec.get("exports", {})), datasets=list(spec.get("datasets", {})),
                       sections=[k for k in spec if k not in core])
