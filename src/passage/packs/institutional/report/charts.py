"""The report's charts: Vega-Lite specs rendered to SVG offline with vl-convert.

The SVG is inlined in the HTML (no script runs in the reader's browser, and WeasyPrint draws it
into the PDF). Text uses DejaVu, a font Debian installs with Pango, so the layout vl-convert
measures is the one the PDF prints.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any


def _english(message: str, **params: Any) -> str:
    return message % params if params else message


Say = Callable[..., str]  # the report's gettext: `_("...", **params)` in its language, formatted

FONT = "DejaVu Sans"
FONT_DIRS = ["/usr/share/fonts/truetype/dejavu", "/usr/share/fonts"]
SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"
_fonts_registered = False


def _config() -> dict[str, Any]:
    return {"font": FONT, "view": {"stroke": None}, "axis": {"labelFontSize": 10, "titleFontSize": 10},
            "legend": {"labelFontSize": 10, "titleFontSize": 10, "orient": "bottom"},
            "background": "white"}


def _register_fonts() -> None:
    global _fonts_registered
    if _fonts_registered:
        return
    import os

    import vl_convert as vlc

    for d in FONT_DIRS:
        if os.path.isdir(d):
            vlc.register_font_directory(d)
            break
    _fonts_registered = True


def to_svg(spec: dict[str, Any], chart_id: str, title: str) -> str:
    """Render a Vega-Lite spec; ids are prefixed so several charts can share one page; labelled for readers."""
    import vl_convert as vlc

    _register_fonts()
    spec = {"$schema": SCHEMA, "config": _config(), **spec}
    svg = vlc.vegalite_to_svg(vl_spec=spec)
    svg = re.sub(r'id="([^"]+)"', rf'id="{chart_id}-\1"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", rf"url(#{chart_id}-\1)", svg)
    svg = re.sub(r'href="#([^"]+)"', rf'href="#{chart_id}-\1"', svg)
    label = title.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
    return svg.replace("<svg ", f'<svg role="img" aria-label="{label}" ', 1)


def idps_spec(rows: list[dict[str, Any]], _: Say = _english) -> dict[str, Any]:
    """IDPs at admin 0 per country and reporting date: one line per country."""
    values = [{"country": r["country"], "date": r["date"].isoformat(), "idps": r["idps"]} for r in rows]
    return {"width": 460, "height": 220, "data": {"values": values},
            "mark": {"type": "line", "point": True},
            "encoding": {
                "x": {"field": "date", "type": "temporal", "title": _("Reporting date"),
                      "axis": {"format": "%b %Y", "labelAngle": 0, "tickCount": 6}},
                "y": {"field": "idps", "type": "quantitative", "title": _("IDPs present"),
                      "axis": {"format": "~s"}},
                "color": {"field": "country", "type": "nominal", "title": _("Country")}}}


def finance_spec(rows: list[dict[str, Any]], _: Say = _english) -> dict[str, Any]:
    """Revenue and expenditure by year, side by side (USD million)."""
    revenue, expenditure = _("Revenue"), _("Expenditure")
    values = [{"year": str(r["year"]), "measure": m, "usd_million": r[k]}
              for r in rows for k, m in (("revenue", revenue), ("expenditure", expenditure))
              if r[k] is not None]
    return {"width": {"step": 36}, "height": 200, "data": {"values": values}, "mark": "bar",
            "encoding": {
                "x": {"field": "year", "type": "ordinal", "title": _("Year"), "axis": {"labelAngle": 0}},
                "xOffset": {"field": "measure", "sort": [revenue, expenditure]},
                "y": {"field": "usd_million", "type": "quantitative", "title": _("USD million")},
                "color": {"field": "measure", "type": "nominal", "title": None,
                          "sort": [revenue, expenditure], "scale": {"range": ["#1f5f99", "#e08a2c"]}}}}


GRADE_ORDER = ["Ungraded", "P-1", "P-2", "P-3", "P-4", "P-5", "D-1–D-2"]


def gender_spec(rows: list[dict[str, Any]], _: Say = _english) -> dict[str, Any]:
    """Women and men by grade: horizontal bars side by side, grades in the report's order."""
    grades = [g for g in GRADE_ORDER if any(r["grade"] == g for r in rows)]
    grades += sorted({r["grade"] for r in rows} - set(grades))
    women, men = _("Women"), _("Men")
    values = [{"grade": r["grade"], "sex": women if r["sex"] == "women" else men, "staff": r["staff"]}
              for r in rows]
    return {"width": 380, "height": {"step": 11}, "data": {"values": values}, "mark": "bar",
            "encoding": {
                "y": {"field": "grade", "type": "nominal", "title": _("Grade"), "sort": grades},
                "yOffset": {"field": "sex", "sort": [women, men]},
                "x": {"field": "staff", "type": "quantitative", "title": _("Staff")},
                "color": {"field": "sex", "type": "nominal", "title": None, "sort": [women, men],
                          "scale": {"range": ["#8a3f8f", "#3f7f8f"]}}}}


def participation_spec(rows: list[dict[str, Any]], _: Say = _english) -> dict[str, Any]:
    """Share of offices that submitted, by region."""
    values = [{"region": r["region"], "rate": r["rate"],
               "label": _("%(submitted)s of %(offices)s", submitted=r["submitted"], offices=r["offices"])}
              for r in rows]
    bars = {"mark": "bar", "encoding": {
        "y": {"field": "region", "type": "nominal", "title": None, "sort": "-x", "axis": {"labelLimit": 320}},
        "x": {"field": "rate", "type": "quantitative", "title": _("Offices that submitted"),
              "axis": {"format": ".0%"}, "scale": {"domain": [0, 1]}},
        "color": {"value": "#1f5f99"}}}
    text = {"mark": {"type": "text", "align": "left", "dx": 3, "fontSize": 9},
            "encoding": {"y": {"field": "region", "type": "nominal", "sort": "-x"},
                         "x": {"field": "rate", "type": "quantitative"}, "text": {"field": "label"}}}
    return {"width": 220, "height": {"step": 18}, "data": {"values": values}, "layer": [bars, text]}
