"""The interface in English, French and Spanish: complete catalogues, plural forms, numbers and dates per
locale, and a language switch that persists."""

from __future__ import annotations

import importlib.util
import re
import shutil
from datetime import date
from pathlib import Path

import pytest
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po, write_po

from passage.web import i18n
from passage.web.i18n_names import DOCUMENT_KINDS, ROLES, english

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("i18n_tool", ROOT / "tools" / "i18n.py")
tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tool)

NNBSP = "\u202f"


@pytest.fixture
def lang():
    """Set the interface language for a block of code, restoring English afterwards."""
    tokens = []

    def use(code: str) -> None:
        tokens.append(i18n.current.set(code))

    yield use
    for token in reversed(tokens):
        i18n.current.reset(token)


def _read(path: Path, locale: str | None = None):
    with path.open("rb") as fh:
        return read_po(fh, locale=locale)


# ---- catalogues ---------------------------------------------------------------------------------------------

def test_every_message_is_translated_with_the_same_placeholders():
    assert tool.problems() == []


def test_the_template_is_up_to_date_with_the_templates_and_code():
    extracted = tool.msgids(tool.extract())
    stored = tool.msgids(_read(tool.LOCALES / "messages.pot"))
    assert extracted - stored == set(), "new strings: run `python tools/i18n.py extract` and translate them"
    assert stored - extracted == set(), "strings no longer used: run `python tools/i18n.py extract`"
    assert len(extracted) > 150


def test_strings_shown_as_data_are_in_the_template():
    stored = tool.msgids(_read(tool.LOCALES / "messages.pot"))
    from passage.indicators import all_indicators
    from passage.plugins import builtin_pack_names

    own = {n for n in english() if all_indicators()[n].pack in builtin_pack_names()}  # Passage's own packs
    assert len(own) >= 5 and own | set(ROLES) | set(DOCUMENT_KINDS) <= stored
    assert ("%(num)s record", "%(num)s records") in stored


@pytest.mark.parametrize("code", ["fr", "es"])
def test_catalogues_declare_all_plural_forms_of_the_language(code):
    catalog = _read(tool.po_path(code), code)
    assert catalog.num_plurals == get_plural(code).num_plurals == 3
    plural = [m for m in catalog if m.id and m.pluralizable]
    assert plural and all(len(m.string) == 3 and all(m.string) for m in plural)


def test_check_lists_missing_fuzzy_and_broken_translations(tmp_path):
    locales = tmp_path / "locales"
    shutil.copytree(tool.LOCALES, locales)
    fr = _read(tool.po_path("fr", locales), "fr")
    fr["Countries"].string = ""
    fr["round %(round)s"].string = "cycle %(tour)s"
    fr["Boundaries: %(source)s."].string = "100% limites %(source)s"
    fr["Datasets"].flags.add("fuzzy")
    with tool.po_path("fr", locales).open("wb") as fh:
        write_po(fh, fr)
    es = _read(tool.po_path("es", locales), "es")
    es[("%(num)s record", "%(num)s records")].string = ("%(num)s registro", "", "%(num)s registros")
    with tool.po_path("es", locales).open("wb") as fh:
        write_po(fh, es)

    found = "\n".join(tool.problems(locales))
    assert "fr: no translation: 'Countries'" in found
    assert "['tour'] instead of ['round']" in found
    assert "a lone %" in found
    assert "fr: fuzzy" in found and "'Datasets'" in found
    assert "es: needs 3 plural forms, has 2: '%(num)s record'" in found
    assert len(found.splitlines()) == 5


def test_check_command_exit_code(tmp_path, monkeypatch):
    assert tool.main(["check"]) == 0
    locales = tmp_path / "locales"
    shutil.copytree(tool.LOCALES, locales)
    tool.po_path("es", locales).unlink()
    monkeypatch.setattr(tool, "LOCALES", locales)
    assert tool.main(["check"]) == 1


# ---- rendering ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("code, n, expected", [
    ("en", 1, "1 record"), ("en", 0, "0 records"), ("en", 1234, "1,234 records"),
    ("fr", 0, "0 enregistrement"), ("fr", 1, "1 enregistrement"), ("fr", 2, "2 enregistrements"),
    ("fr", 1_000_000, f"1{NNBSP}000{NNBSP}000 d’enregistrements"),
    ("es", 0, "0 registros"), ("es", 1, "1 registro"), ("es", 12_345, "12.345 registros"),
    ("es", 2_000_000, "2.000.000 de registros"),
])
def test_templates_choose_the_plural_form_of_the_language(lang, code, n, expected):
    from passage.web.pages import templates

    lang(code)
    t = templates.env.from_string('{{ ngettext("%(num)s record", "%(num)s records", n, num=n|number) }}')
    assert t.render(n=n) == expected


def test_templates_format_and_escape_every_placeholder(lang):
    from passage.web.pages import templates

    lang("fr")
    t = templates.env.from_string(
        '{{ ngettext("%(num)s file in %(place)s", "%(num)s files in %(place)s", 2, place=p) }}|'
        '{{ _("round %(round)s", round=r) }}|{{ _("Boundaries: %(source)s.", source=r) }}')
    assert t.render(p="<b>", r="<i>") == "2 files in &lt;b&gt;|cycle &lt;i&gt;|Limites\u00a0: &lt;i&gt;."


def test_python_side_gettext_formats(lang):
    lang("es")
    assert i18n.gettext("round %(round)s", round=4) == "ronda 4"
    assert i18n.ngettext("%(num)s page", "%(num)s pages", 1) == "1 página"
    assert i18n.gettext("not a catalogue string") == "not a catalogue string"


@pytest.mark.parametrize("code, latest, change", [
    ("en", "IDPs at the latest round", "Change since the previous round"),
    ("fr", "PDI au dernier cycle", "Variation depuis le cycle précédent"),
    ("es", "PDI en la última ronda", "Variación desde la ronda anterior"),
])
def test_indicator_names_read_as_titles(lang, code, latest, change):
    lang(code)
    assert i18n.gettext("idps_latest") == latest
    assert i18n.gettext("idps_change") == change


@pytest.mark.parametrize("code, big, small, decimals, pct, day", [
    ("en", "1,234,567", "1,234", "12,345.7", "12.5%", "Mar 5, 2024"),
    ("fr", f"1{NNBSP}234{NNBSP}567", f"1{NNBSP}234", f"12{NNBSP}345,7", "12,5\u00a0%", "5 mars 2024"),
    ("es", "1.234.567", "1234", "12.345,7", "12,5\u00a0%", "5 mar 2024"),
])
def test_numbers_and_dates_follow_the_language(lang, code, big, small, decimals, pct, day):
    lang(code)
    assert i18n.number(1_234_567) == big
    assert i18n.number(1234) == small  # CLDR: Spanish groups from five digits on
    assert i18n.number(12_345.67, 1) == decimals
    assert i18n.percent(12.5) == pct
    assert i18n.day(date(2024, 3, 5)) == i18n.day("2024-03-05") == day
    assert i18n.number(None) == i18n.percent(None) == i18n.day(None) == "–"


def test_spanish_grouping_counts_the_rounded_value(lang):
    lang("es")
    assert i18n.number(9999.7) == "10.000"
    assert i18n.number(-12_345) == "-12.345"


@pytest.mark.parametrize("cookie, accept, expected", [
    ("fr", "es", "fr"),
    (None, "fr-FR,fr;q=0.9,en;q=0.8", "fr"),
    (None, "de;q=1, es;q=0.5, fr;q=0.8", "fr"),
    (None, "es-419", "es"),
    ("de", "es", "es"),
    (None, "fr;q=0", "en"),
    (None, "de, *;q=0.5", "en"),
    (None, None, "en"),
])
def test_language_choice(cookie, accept, expected):
    assert i18n.pick_language(cookie, accept) == expected


# ---- the running portal -------------------------------------------------------------------------------------

def _lang_attr(html: str) -> str:
    return re.search(r'<html lang="([^"]*)"', html).group(1)


def _nav(html: str) -> str:
    return re.search(r'<nav aria-label="[^"]*">(.*?)</nav>', html, re.DOTALL).group(1)


@pytest.mark.parametrize("code, countries, datasets", [("fr", "Pays", "Jeux de données"),
                                                        ("es", "Países", "Conjuntos de datos")])
def test_language_switch_persists(portal, code, countries, datasets):
    with portal.client() as c:
        r = c.get(f"/language/{code}", params={"next": "/countries"})
        assert r.status_code == 303 and r.headers["location"] == "/countries"
        assert f"passage_lang={code}" in r.headers["set-cookie"]
        assert "max-age" in r.headers["set-cookie"].lower()
        page = c.get("/countries")
        assert page.status_code == 200
        assert _lang_attr(page.text) == code
        nav = _nav(page.text)
        assert f">{countries}</a>" in nav and f">{datasets}</a>" in nav and ">Countries<" not in nav
        assert c.get("/datasets").text.count(f"<strong lang=\"{code}\">") == 1  # shown as the current language
        back = c.get("/language/en", params={"next": "/countries"})
        assert "passage_lang=en" in back.headers["set-cookie"]
        assert ">Countries</a>" in _nav(c.get("/countries").text)


def test_home_page_numbers_in_french(portal):
    with portal.client() as c:
        c.cookies.set("passage_lang", "fr")
        html = c.get("/").text
    total = re.search(r'data-testid="total-idps">([^<]+)<', html).group(1)
    assert re.fullmatch(rf"\d{{1,3}}(?:{NNBSP}\d{{3}})+", total), total
    assert "enregistrements</a>" in html and "cycle " in html
    assert "Chiffres clés" in html and "Dernières publications" in html


def test_home_page_numbers_in_spanish(portal):
    with portal.client() as c:
        c.cookies.set("passage_lang", "es")
        html = c.get("/").text
    total = re.search(r'data-testid="total-idps">([^<]+)<', html).group(1)
    assert re.fullmatch(r"\d{1,3}(?:\.\d{3})+", total), total
    assert _lang_attr(html) == "es" and "ronda " in html and "Cifras clave" in html


def test_browser_language_is_used_without_a_cookie(portal):
    with portal.client() as c:
        fr = c.get("/countries", headers={"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.8"}).text
        es = c.get("/countries", headers={"Accept-Language": "es-ES,es;q=0.9"}).text
        de = c.get("/countries", headers={"Accept-Language": "de-DE,de;q=0.9"}).text
    assert _lang_attr(fr) == "fr" and ">Pays</a>" in _nav(fr)
    assert _lang_attr(es) == "es" and ">Países</a>" in _nav(es)
    assert _lang_attr(de) == "en" and ">Countries</a>" in _nav(de)


def test_an_unknown_language_is_ignored(portal):
    with portal.client() as c:
        r = c.get("/language/de", params={"next": "/countries"})
        assert r.status_code == 303 and r.headers["location"] == "/countries"
        assert "passage_lang" not in r.headers.get("set-cookie", "")
        c.cookies.set("passage_lang", "de")
        html = c.get("/countries", headers={"Accept-Language": "es"}).text
        assert _lang_attr(html) == "es"
        assert c.get("/language/fr", params={"next": "//evil.example/"}).headers["location"] == "/"


def test_country_page_in_each_language(portal):
    with portal.client() as c:
        en = c.get("/countries/NGA").text
        c.cookies.set("passage_lang", "fr")
        fr = c.get("/countries/NGA").text
        c.cookies.set("passage_lang", "es")
        es = c.get("/countries/NGA").text
    assert ">IDPs at the latest round</option>" in en and ">idps_latest<" not in en
    assert ">PDI au dernier cycle</option>" in fr and ">Variation depuis le cycle précédent</option>" in fr
    assert ">PDI en la última ronda</option>" in es
    assert 'data-locale="fr"' in fr and 'data-locale="es"' in es
    assert ">niveau admin 1</option>" in fr and ">nivel admin 1</option>" in es


def test_signed_in_pages_translate_roles(portal):
    editor = portal.client("editor-nga")  # signed in already: opened, closed below
    editor.cookies.set("passage_lang", "es")
    html = editor.get("/import").text
    editor.close()
    assert "Importar un archivo" in html and '<span class="role">editor</span>' in html
    viewer = portal.client("viewer-ssd")
    viewer.cookies.set("passage_lang", "fr")
    html = viewer.get("/account").text
    viewer.close()
    assert '<span class="role">lecteur</span>' in html and "Jetons d’API" in html


@pytest.mark.parametrize("lang, chad, south_sudan, italy", [("en", "Chad", "South Sudan", "Italy"),
                                                             ("fr", "Tchad", "Soudan du Sud", "Italie"),
                                                             ("es", "Chad", "Sudán del Sur", "Italia")])
def test_country_names_follow_the_language(portal, lang, chad, south_sudan, italy):
    """CLDR's names in the interface language on the home page, the countries list, a country page and the
    travel pages (the records keep the names as given)."""
    with portal.client() as c:
        c.cookies.set("passage_lang", lang)
        home, listed = c.get("/").text, c.get("/countries").text
        page, travel = c.get("/countries/SSD").text, c.get("/travel/countries/ITA").text
    assert f'<a href="/countries/TCD">{chad}</a>' in home and f'<a href="/countries/SSD">{south_sudan}</a>' in listed
    assert re.search(rf"<h1>{south_sudan} <span", page) and re.search(rf"<h1>{italy} <span", travel)
