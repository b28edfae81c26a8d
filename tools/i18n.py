"""Interface catalogues: extract the strings, update the translations, check them.

    python tools/i18n.py extract   # templates and web code → locales/messages.pot → fr and es .po (translations kept)
    python tools/i18n.py check     # exit 1, listing every string without a translation or with wrong placeholders

What is extracted is set in babel.cfg. Strings that reach templates as data (indicator names, roles…) are
marked in src/passage/web/i18n_names.py. A catalogue is rewritten only when its messages change, so
running `extract` twice leaves no diff.
"""

from __future__ import annotations

import io
import re
import sys
from collections import defaultdict
from pathlib import Path

from babel import Locale
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_file
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po, write_po

from passage.web.i18n import DEFAULT, LANGUAGES
from passage.web.i18n_names import english

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "babel.cfg"
LOCALES = ROOT / "src" / "passage" / "web" / "locales"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_noop": None}
COMMENT_TAGS = ("Translators:",)
TRANSLATED = tuple(code for code in LANGUAGES if code != DEFAULT)
POT_HEADER = """\
# Interface strings of Passage: the template the translations follow.
# Written by `python tools/i18n.py extract`; do not edit by hand."""
PO_HEADER = """\
# Interface strings of Passage in {language}.
# Fill in the msgstr lines; `python tools/i18n.py extract` keeps them when the template changes
# and `python tools/i18n.py check` lists what is missing."""
PLACEHOLDER = re.compile(r"%\((\w+)\)[#0 +-]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]")


def extract(root: Path = ROOT, config: Path = CONFIG) -> Catalog:
    """Every marked string of the files babel.cfg names, with its files as locations (no line numbers)."""
    with config.open() as fh:
        method_map, options_map = parse_mapping_cfg(fh, str(config))
    catalog = Catalog(project="Passage", version="1", header_comment=POT_HEADER, msgid_bugs_address="", fuzzy=False)
    for pattern, method in method_map:
        for path in sorted(root.glob(pattern)):
            rel = path.relative_to(root).as_posix()
            for lineno, message, comments, context in extract_from_file(
                    method, path, KEYWORDS, COMMENT_TAGS, options_map.get(pattern, {}), strip_comment_tags=True):
                catalog.add(message, None, [(rel, lineno)], auto_comments=comments, context=context)
    from passage.indicators import all_indicators
    from passage.plugins import builtin_pack_names, load_pack

    own = set(builtin_pack_names())  # the catalogue is Passage's: a pack from elsewhere brings its own words
    for name, label in english().items():  # indicator names reach pages as data: each is a message of its own
        if all_indicators()[name].pack not in own:
            continue
        where = (load_pack(all_indicators()[name].pack).path / "indicators.yaml").relative_to(root).as_posix()
        if name not in catalog:
            catalog.add(name, None, [(where, None)])
        catalog[name].auto_comments.append(f"An indicator; in English: {label}")
    return catalog


def msgids(catalog: Catalog) -> set[str | tuple[str, ...]]:
    return {m.id for m in catalog if m.id}


def po_path(lang: str, locales: Path = LOCALES) -> Path:
    return locales / lang / "LC_MESSAGES" / "messages.po"


def update(template: Catalog, locales: Path = LOCALES) -> list[Path]:
    """Write the template and bring each language's catalogue in line with it; returns the files written."""
    written = []
    if _write(locales / "messages.pot", template, keep_obsolete=True):
        written.append(locales / "messages.pot")
    for lang in TRANSLATED:
        path = po_path(lang, locales)
        if path.exists():
            with path.open("rb") as fh:
                catalog = read_po(fh, locale=lang)
        else:
            catalog = Catalog(locale=lang, project="Passage", version="1", fuzzy=False,
                              header_comment=PO_HEADER.format(language=Locale.parse(lang).english_name))
        catalog.update(template, update_header_comment=False)
        if _write(path, catalog, keep_obsolete=False):
            written.append(path)
    return written


def _render(catalog: Catalog, keep_obsolete: bool) -> bytes:
    buf = io.BytesIO()
    write_po(buf, catalog, width=100, include_lineno=False, sort_output=True, ignore_obsolete=not keep_obsolete)
    return buf.getvalue()


_DATES = re.compile(rb'^"(POT-Creation-Date|PO-Revision-Date): .*\\n"\n', re.MULTILINE)


def _write(path: Path, catalog: Catalog, keep_obsolete: bool) -> bool:
    text = _render(catalog, keep_obsolete)
    if path.exists() and _DATES.sub(b"", path.read_bytes()) == _DATES.sub(b"", text):
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text)
    return True


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


def _formats(text: str) -> bool:
    """Templates always apply `%` to a message: a lone `%` (not `%%`) would break the page."""
    try:
        text % defaultdict(int)
    except (ValueError, TypeError, KeyError):
        return False
    return True


def problems(locales: Path = LOCALES, languages: tuple[str, ...] = TRANSLATED) -> list[str]:
    """Messages of the template that some language lacks, leaves fuzzy, or translates with other placeholders."""
    with (locales / "messages.pot").open("rb") as fh:
        template = read_po(fh)
    found = []
    for lang in languages:
        path = po_path(lang, locales)
        if not path.exists():
            found.append(f"{lang}: no catalogue at {path}")
            continue
        with path.open("rb") as fh:
            catalog = read_po(fh, locale=lang)
        for msg in template:
            if not msg.id:
                continue
            found += [f"{lang}: {p}: {_show(msg.id)}" for p in _message_problems(msg, catalog)]
    return found


def _message_problems(msg: Message, catalog: Catalog) -> list[str]:
    got = catalog.get(msg.id, msg.context)
    if got is None or not got.string:
        return ["no translation"]
    out = []
    if got.fuzzy:
        out.append("fuzzy (check the translation, then remove the fuzzy flag)")
    if msg.pluralizable:
        expected = placeholders(msg.id[0]) | placeholders(msg.id[1])
        forms = got.string if isinstance(got.string, (list, tuple)) else (got.string,)
        if len(forms) != catalog.num_plurals or not all(forms):
            out.append(f"needs {catalog.num_plurals} plural forms, has {sum(1 for f in forms if f)}")
    else:
        expected = placeholders(msg.id)
        forms = (got.string,) if isinstance(got.string, str) else tuple(got.string)
    for form in forms:
        if form and placeholders(form) != expected:
            out.append(f"placeholders {sorted(placeholders(form))} instead of {sorted(expected)} in {form!r}")
        elif form and not _formats(form):
            out.append(f"a lone % (write %%) in {form!r}")
    return out


def _show(msgid: str | tuple[str, ...]) -> str:
    return repr(msgid[0] if isinstance(msgid, tuple) else msgid)


def main(argv: list[str]) -> int:
    command = argv[0] if argv else ""
    if command == "extract":
        template = extract()
        written = update(template, LOCALES)
        print(f"{len(msgids(template))} messages; " + (", ".join(str(p.relative_to(ROOT)) for p in written)
                                                     if written else "catalogues already up to date"))
        return 0
    if command == "check":
        found = problems(LOCALES)
        for line in found:
            print(line, file=sys.stderr)
        print(f"{len(found)} problems" if found else "all messages translated", file=sys.stderr)
        return 1 if found else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
