"""Packs as plugins: the hooks a pack may implement and the one place that finds packs.

A pack is a Python package registered under the entry-point group `passage.packs` (the built-in packs
are registered the same way, in Passage's own pyproject.toml). Its module implements some of the hooks
below with `@hookimpl`; the folder beside it holds `pack.yaml`, forms, templates and static files. Hooks are
called through pluggy, as pytest and Datasette call theirs. Core modules ask these hooks and never name a
pack, so a pack installed from elsewhere is served exactly like a built-in one.

    from passage.plugins import hookimpl

    @hookimpl
    def importers():
        return {"my-kind": MyImporter}
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pluggy

from passage.errors import NotFound, UsageError

GROUP = "passage.packs"
LOAD_PACKS = "PASSAGE_LOAD_PACKS"
hookspec = pluggy.HookspecMarker("passage")
hookimpl = pluggy.HookimplMarker("passage")


class PackHooks:
    """Every hook a pack may implement. Each returns its pack's part; Passage merges the parts."""

    @hookspec
    def pack_dir(self) -> Path:
        """The folder holding the pack's `pack.yaml` (forms, templates and static files beside it)."""

    @hookspec
    def pack_sections(self) -> dict[str, type]:
        """Pydantic models of the pack's own pack.yaml sections: key -> model (a RootModel for a list or a mapping
        of entries). The key "records.checks" adds the pack's own record checks. Each section is required; a
        key that neither the core (`passage.packmodel.PackSpec`) nor these know is an error."""

    @hookspec
    def importers(self) -> dict[str, Callable[[], Any]]:
        """Import kinds (`passage import KIND`) and a factory for each importer."""

    @hookspec
    def finding_codes(self) -> dict[str, str]:
        """The pack's finding codes and what each means (docs/validation.md lists them)."""

    @hookspec
    def row_checks(self) -> dict[str, Callable[[Any, Any], None]]:
        """Record checks a form's `records.<form>.checks.<name>` may ask for, beside the core's: name ->
        check(batch, spec), adding set-based conditions to the import's one scan (`passage.checks.Batch`).
        Their codes are among the pack's `finding_codes`; `pack_sections()["records.checks"]` types their specs."""

    @hookspec
    def store_tables(self) -> list[str]:
        """DDL of the pack's own system tables (`CREATE ... IF NOT EXISTS`), run when a store opens."""

    @hookspec
    def cli(self, main: Any) -> None:
        """Add the pack's commands and groups to the `passage` command (a click group)."""

    @hookspec
    def web_routers(self) -> list[Any]:
        """The pack's FastAPI routers (pages and API routes)."""

    @hookspec
    def nav_links(self) -> list[dict[str, Any]]:
        """Menu entries: {href, label, signed_in (only for signed-in users), prefixes (paths it is current on),
        show (optional: a predicate on the request's Ctx; a signed-in link shows only when it is true)}."""

    @hookspec
    def demo_seed(self, store: Any, work_dir: Path, say: Callable[[str], None]) -> dict[str, Any] | None:
        """Load the pack's demo data into a new store; return {"accounts": [(user, role, places)], ...}: the
        accounts are made with generated passwords (`passage.demo_portal.add_accounts`), the rest is the summary.
        Packs are seeded in order of `requires` in their pack.yaml."""

    @hookspec
    def published_tables(self) -> dict[str, tuple[str, Callable[..., Any]]]:
        """Derived tables `passage export` knows beside pack exports and indicators:
        name -> (title, build(store, source) -> PublishedTable)."""

    @hookspec
    def headline(self, store: Any, principal: Any) -> dict[str, Any] | None:
        """The home page's headline figures for what `principal` may read (None: the pack has none)."""

    @hookspec
    def edit_checks(self, store: Any, form_id: str, old: dict, new: dict, target: str, report: Any) -> None:
        """Checks on an edited record beyond the form's (e.g. a workflow state that freezes the record)."""

    @hookspec
    def store_migrations(self) -> list[Any]:
        """The pack's numbered store migrations (`passage.store.migrations.numbered(package, pack)`), applied
        by `passage migrate` and recorded under the pack's name."""


@cache
def manager() -> pluggy.PluginManager:
    """The plugin manager with every installed pack registered under its entry-point name.

    `PASSAGE_LOAD_PACKS=NAME,NAME` loads only the packs named (an empty value: none), as Datasette's
    DATASETTE_LOAD_PLUGINS does: packs are found once per process, before any settings are read."""
    wanted = os.environ.get(LOAD_PACKS)
    only = None if wanted is None else {n.strip() for n in wanted.split(",") if n.strip()}
    pm = pluggy.PluginManager("passage")
    pm.add_hookspecs(PackHooks)
    for ep in sorted(entry_points(group=GROUP), key=lambda e: e.name):
        if pm.get_plugin(ep.name) is None and (only is None or ep.name in only):
            pm.register(ep.load(), name=ep.name)
    return pm


def builtin_pack_names() -> list[str]:
    """The packs Passage itself ships (registered by its own distribution)."""
    return sorted(ep.name for ep in entry_points(group=GROUP) if ep.value.startswith("passage.packs."))


def pack_dirs() -> dict[str, Path]:
    """Pack name -> its folder, for every installed pack."""
    out = {}
    for name, plugin in manager().list_name_plugin():
        impl = getattr(plugin, "pack_dir", None)
        if impl is not None:
            out[name] = Path(impl())
    return out


def merged(hook: str, **kwargs: Any) -> dict[str, Any]:
    """One dict from every pack's answer to `hook`; a name two packs claim is an error, not a silent override."""
    out: dict[str, Any] = {}
    owner: dict[str, str] = {}
    for name, plugin in manager().list_name_plugin():
        impl = getattr(plugin, hook, None)
        if impl is None:
            continue
        for key, value in (impl(**kwargs) or {}).items():
            if key in out:
                raise UsageError(f"packs {owner[key]!r} and {name!r} both define {hook} {key!r}")
            out[key], owner[key] = value, name
    return out


def by_pack(hook: str, **kwargs: Any) -> dict[str, Any]:
    """Each pack's own answer to `hook`, under the pack's name (packs without it left out)."""
    out: dict[str, Any] = {}
    for name, plugin in manager().list_name_plugin():
        impl = getattr(plugin, hook, None)
        if impl is not None:
            out[name] = impl(**kwargs)
    return out


def collected(hook: str, **kwargs: Any) -> list[Any]:
    """Every pack's list answer to `hook`, concatenated in pack order."""
    out: list[Any] = []
    for answer in getattr(manager().hook, hook)(**kwargs)[::-1]:  # pluggy answers last-registered first
        out += answer or []
    return out


def call(hook: str, **kwargs: Any) -> list[Any]:
    """Every pack's answer to `hook`, in pack order (packs without it left out)."""
    return [a for a in getattr(manager().hook, hook)(**kwargs)[::-1] if a is not None]


# ---- pack.yaml --------------------------------------------------------------------------------------------

@dataclass
class Pack:
    name: str
    title: str
    path: Path
    forms: dict[str, Any]
    records: dict[str, dict[str, Any]]  # form_id -> {key: [...], checks: {...}, places: {...}}
    indicators: list[dict[str, Any]] = field(default_factory=list)
    exports: dict[str, dict[str, Any]] = field(default_factory=dict)
    layouts: dict[str, list[list[str]]] = field(default_factory=dict)  # provider layouts: column, field, hashtag
    datasets: dict[str, dict[str, Any]] = field(default_factory=dict)  # portal datasets: HDX metadata
    requires: list[str] = field(default_factory=list)
    spec: dict[str, Any] = field(default_factory=dict)  # the whole pack.yaml, for the pack's own sections

    def record_config(self, form_id: str) -> dict[str, Any]:
        return self.records.get(form_id, {})


def available_packs() -> list[str]:
    """Installed packs, each after the packs it requires."""
    dirs = pack_dirs()
    order: list[str] = []

    def visit(name: str, trail: tuple[str, ...] = ()) -> None:
        if name in order:
            return
        if name in trail:
            raise UsageError(f"packs require each other in a cycle: {' -> '.join((*trail, name))}")
        for dep in load_pack(name).requires:
            if dep not in dirs:
                raise UsageError(f"pack {name!r} requires pack {dep!r}, which is not installed")
            visit(dep, (*trail, name))
        order.append(name)

    for name in sorted(dirs):
        visit(name)
    return order


@cache
def load_pack(name: str) -> Pack:
    from passage.packmodel import checked_pack

    dirs = pack_dirs()
    if name not in dirs:
        raise NotFound(f"no pack named {name!r} (have: {', '.join(sorted(dirs))})")
    path = dirs[name] / "pack.yaml"
    checked = checked_pack(path)  # pack.yaml, its forms compiled and its indicator files, checked together
    spec = checked.spec
    return Pack(name=name, title=spec.get("title", name), path=path.parent, forms=checked.forms,
                records=spec.get("records", {}), indicators=list(checked.indicators.values()),
                exports=spec.get("exports", {}),
                layouts=spec.get("layouts", {}), datasets=spec.get("datasets", {}),
                requires=spec.get("requires", []), spec=spec)


def install_pack(store: Any, name: str) -> Pack:
    """Make a pack's forms usable in a store (idempotent)."""
    from passage.forms import install_form

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
