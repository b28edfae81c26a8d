"""Export layouts of any XLSForm, written the way KoboToolbox and ODK Central write them, and plausible
submissions for any form: what `passage import xlsform-data` is tested with.

    form = compile_xlsform(path)
    subs = submissions(form, n=6, seed=1)             # dicts keyed by field path; repeats as lists
    write_kobo_csv(form, subs, tmp / "kobo.csv", sep=";")
    write_kobo_xlsx(form, subs, tmp / "kobo.xlsx", headers="label", group_sep="-")
    write_odk_zip(form, subs, tmp / "odk.zip")
    files = write_all(form, subs, tmp)                # every layout at once: {layout name: path}

A submission is `{field path: XML value (str) or None, repeat path: [instance, ...], "_uuid": ...,
"_submission_time": ...}`; an instance is the same shape for the repeat's fields (and nested repeats).
Values are XML values in every layout (Kobo's "labels" export is simulated in its headers: group names
stand for group labels, which a compiled form does not keep).

`submissions` draws values from each field's type and choices and keeps, per field, the first candidate
that the form's own rules accept (`passage.checks.form_rules` run over all candidates at once in DuckDB):
relevance, constraints, `required`, choice filters and ranges are thus met as the importer will check
them; calculations are computed by the form's expression compiler. Deterministic for a seed.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import random
import re
import uuid
import zipfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import openpyxl
import pyarrow as pa

from passage.forms import Field, Form

SUBMITTED = datetime(2025, 1, 15, 9, 0, 0)  # submissions are sent from here on, one hour apart
CANDIDATES = 8  # values tried per field and row
MEDIA = {"image", "photo", "audio", "video", "file", "background-image", "background-audio", "signature"}
KOBO_META = ["_id", "_uuid", "_submission_time", "_validation_status", "_notes", "_status", "_submitted_by",
             "__version__", "_tags", "_index"]
KOBO_REPEAT_META = ["_index", "_parent_table_name", "_parent_index", "_submission__id", "_submission__uuid",
                    "_submission__submission_time", "_submission__validation_status", "_submission__notes",
                    "_submission__status", "_submission__submitted_by", "_submission___version__",
                    "_submission__tags"]
ODK_TAIL = ["meta-instanceID", "KEY", "SubmitterID", "SubmitterName", "AttachmentsPresent", "AttachmentsExpected",
            "Status", "ReviewState", "DeviceID", "Edits", "FormVersion"]
GEO_PARTS = ("Latitude", "Longitude", "Altitude", "Accuracy")


# --------------------------------------------------------------------------- the form's shape

def xml_name(f: Field) -> str:
    return getattr(f, "xml_name", "") or f.name


def repeat_name(form: Form, r: str) -> str:
    return getattr(form, "repeat_names", {}).get(r, r)


def repeat_path(form: Form, r: str) -> str:
    known = getattr(form, "repeat_paths", {}).get(r)
    if known:
        return known
    name = repeat_name(form, r)
    for f in form.fields:
        segs = f.path.split("/")
        if f.repeat == r and name in segs[:-1]:
            return "/".join(segs[: len(segs) - 1 - segs[:-1][::-1].index(name)])
    return name


def parent_repeat(form: Form, r: str) -> str | None:
    mine = repeat_path(form, r)
    outer = [o for o in form.repeats if o != r and mine.startswith(repeat_path(form, o) + "/")]
    return max(outer, key=lambda o: len(repeat_path(form, o))) if outer else None


def level_fields(form: Form, r: str | None) -> list[Field]:
    return form.top_fields() if r is None else form.repeat_fields(r)


def children(form: Form, r: str | None) -> list[str]:
    return [c for c in form.repeats if parent_repeat(form, c) == r]


def labels_unique(form: Form) -> bool:
    """Whether a labels export of the form can be read back: no two fields of one level share a label."""
    for r in [None, *form.repeats]:
        seen = [" ".join(f.label.split()).casefold() for f in level_fields(form, r) if f.label.strip()]
        if len(seen) != len(set(seen)):
            return False
    return True


# --------------------------------------------------------------------------- candidate values

def _sample_regex(pattern: str, rng: random.Random) -> str | None:
    """A string matching a simple regular expression (literals, classes, repeats, groups, branches)."""
    import re._parser as sre
    from re._constants import (
        ANY,
        AT,
        BRANCH,
        CATEGORY,
        CATEGORY_DIGIT,
        CATEGORY_SPACE,
        CATEGORY_WORD,
        IN,
        LITERAL,
        MAX_REPEAT,
        MAXREPEAT,
        MIN_REPEAT,
        NEGATE,
        NOT_LITERAL,
        RANGE,
        SUBPATTERN,
    )

    cats = {CATEGORY_DIGIT: "0123456789", CATEGORY_WORD: "abcxyz", CATEGORY_SPACE: " "}

    def walk(items) -> str:
        out = []
        for op, av in items:
            if op == LITERAL:
                out.append(chr(av))
            elif op == NOT_LITERAL:
                out.append("a" if chr(av) != "a" else "b")
            elif op == ANY:
                out.append("a")
            elif op == AT:
                continue
            elif op == IN:
                pool: list[str] = []
                if av and av[0][0] == NEGATE:
                    banned = {chr(v) for o, v in av[1:] if o == LITERAL}
                    pool = [c for c in "abcdefgh0123" if c not in banned]
                else:
                    for o, v in av:
                        if o == LITERAL:
                            pool.append(chr(v))
                        elif o == RANGE:
                            pool.extend(chr(c) for c in range(v[0], min(v[1], v[0] + 25) + 1))
                        elif o == CATEGORY:
                            pool.extend(cats.get(v, "a"))
                if not pool:
                    raise ValueError(pattern)
                out.append(rng.choice(pool))
            elif op in (MAX_REPEAT, MIN_REPEAT):
                lo, hi, sub = av
                hi = lo + 3 if hi == MAXREPEAT else hi
                out.extend(walk(sub) for _ in range(rng.randint(lo, max(lo, min(hi, lo + 3)))))
            elif op == SUBPATTERN:
                out.append(walk(av[-1]))
            elif op == BRANCH:
                out.append(walk(rng.choice(av[1])))
            elif op == CATEGORY:
                out.append(rng.choice(cats.get(av, "a")))
            else:
                raise ValueError(pattern)
        return "".join(out)

    try:
        text = walk(sre.parse(pattern))
    except (ValueError, re.error, TypeError, IndexError, OverflowError):
        return None
    return text if re.search(pattern, text) else None


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _point(rng: random.Random) -> str:
    return f"{rng.uniform(4, 13):.6f} {rng.uniform(3, 14):.6f} {rng.randint(100, 900)} {rng.randint(3, 20)}"


def candidates(f: Field, rng: random.Random, when: datetime) -> list[str | None]:
    """Values to try for a field, most plausible first; None (empty) last."""
    t = f.type
    choices = list(f.choices or [])
    out: list[str | None] = []
    if t in ("integer", "int"):
        small = [rng.randint(1, 9) for _ in range(3)]
        out = [str(v) for v in [*small, 0, rng.randint(10, 40), rng.randint(41, 120), 1000, -1]]
    elif t == "decimal":
        out = [_fmt(round(rng.uniform(0.5, 9.5), 1)), _fmt(round(rng.uniform(10, 99), 2)), "0", "1", "250.5", "-1"]
    elif t == "range":
        p = getattr(f, "parameters", None) or {}
        lo, hi = float(p.get("start", 1)), float(p.get("end", 10))
        step = abs(float(p.get("step", 1))) or 1.0
        n = int(abs(hi - lo) / step)
        sign = 1 if hi >= lo else -1
        out = [_fmt(lo + sign * step * rng.randint(0, n)) for _ in range(4)] + [_fmt(lo), _fmt(hi)]
    elif t == "select_one" or t.startswith("select_one"):
        out = rng.sample(choices, len(choices)) if choices else ["option_1"]
    elif t == "select_multiple" or t.startswith("select_multiple"):
        if choices:
            picks = []
            for _ in range(CANDIDATES - 2):
                chosen = set(rng.sample(choices, rng.randint(1, min(3, len(choices)))))
                picks.append(" ".join(c for c in choices if c in chosen))
            out = picks + [c for c in choices[:2]]
        else:
            out = ["option_1"]
    elif t == "date":
        out = [(when.date() - timedelta(days=rng.randint(d0, d1))).isoformat()
               for d0, d1 in ((1, 60), (61, 365), (366, 3650), (3651, 20000), (0, 0))]
        out.append((when.date() + timedelta(days=rng.randint(1, 30))).isoformat())
    elif t == "dateTime":
        out = [(when - timedelta(minutes=rng.randint(5, 600))).isoformat(timespec="seconds"),
               (when - timedelta(days=rng.randint(1, 300))).isoformat(timespec="seconds")]
    elif t == "time":
        out = [f"{rng.randint(6, 18):02d}:{rng.randint(0, 59):02d}:00", "12:00:00"]
    elif t == "geopoint":
        out = [_point(rng) for _ in range(2)]
    elif t == "geotrace":
        out = [";".join(_point(rng) for _ in range(3))]
    elif t == "geoshape":
        pts = [_point(rng) for _ in range(3)]
        out = [";".join([*pts, pts[0]])]
    elif t in MEDIA:
        ext = {"image": "jpg", "photo": "jpg", "audio": "m4a", "video": "mp4", "signature": "png"}.get(t, "pdf")
        out = [f"{xml_name(f)}-{rng.randint(100000, 999999)}.{ext}"]
    elif t == "acknowledge":
        out = ["OK"]
    elif t in ("barcode",):
        out = [str(rng.randint(10**11, 10**12 - 1))]
    else:  # text and anything else held as text
        out = []
        for pattern in re.findall(r"regex\(\s*\.\s*,\s*'((?:[^'])*)'\s*\)", f.constraint or ""):
            for _ in range(3):
                s = _sample_regex(pattern, rng)
                if s is not None:
                    out.append(s)
        words = ["Amina", "Kano market", "Near the well", "Block 4", "Ibrahim Musa", "ok"]
        out += [rng.choice(words), f"{rng.choice(words)} {rng.randint(1, 99)}", "x", "A" * 40]
    seen: list[str | None] = []
    for v in out:
        if v not in seen:
            seen.append(v)
    return seen[: CANDIDATES - 1] + [None]


# --------------------------------------------------------------------------- the oracle: the form's own rules

def _stripped(f: Field) -> Field:
    """A field as context only: its value is there, none of its rules run."""
    clear = {"required": False, "constraint": None, "relevant": None, "choices": None, "calculation": None}
    for attr in ("choice_filter", "parameters", "choice_file", "choice_rows"):
        if hasattr(f, attr):
            clear[attr] = None
    return dataclasses.replace(f, **clear)


def _has_rules(f: Field) -> bool:
    return bool(f.relevant or f.constraint or getattr(f, "choice_filter", None) or f.type == "range"
                or getattr(f, "parameters", None))


class _Rows:
    """Rows of one level being filled (each a dict: storage name -> value), with their enclosing rows."""

    def __init__(self, form: Form, repeat: str | None, rows: list[dict[str, Any]]):
        self.form, self.repeat, self.rows = form, repeat, rows
        self.fields = level_fields(form, repeat)
        chain, r = [], repeat
        while r is not None:
            r = parent_repeat(form, r)
            chain.append(r)
        self.outer = [f for lv in chain for f in level_fields(form, lv)]

    def context(self, row: dict[str, Any]) -> dict[str, Any]:
        out, up = {}, row.get("__parent")
        while up is not None:
            out.update({k: v for k, v in up.items() if not k.startswith("__")})
            up = up.get("__parent")
        return out


def _table(eng, name: str, columns: list[str], data: list[dict[str, Any]]) -> None:
    arrow = pa.table({c: pa.array([d.get(c) for d in data], pa.string()) for c in columns})
    eng.register(f"{name}_arrow", arrow)
    try:
        eng.execute(f'CREATE OR REPLACE TEMP TABLE {name} AS SELECT _row::BIGINT AS _row, * EXCLUDE (_row) '
                    f"FROM {name}_arrow")
    finally:
        eng.unregister(f"{name}_arrow")


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _bad_rows(eng, level: _Rows, f: Field, data: list[dict[str, Any]]) -> set[int]:
    """The `_row`s of `data` that break a rule of `f` (the other fields are context without rules)."""
    from passage.checks import Context, form_rules
    from passage.findings import Report

    own = [x if x.name == f.name else _stripped(x) for x in level.fields]
    sub = dataclasses.replace(level.form, fields=own + [_stripped(x) for x in level.outer], repeats=[])
    cols = ["_row", "_file", "_sheet", "_submission_time", *(x.name for x in sub.fields)]
    _table(eng, "gen_t", cols, data)
    report = Report(limit=10**6)
    ctx = Context(eng, "gen_t", sub, {}, report, extra={"kept_per_check": 10**6})
    try:
        form_rules.run(ctx)
    except duckdb.Error:  # a rule the checker compiles but DuckDB cannot run: the import will say so
        return set()
    if any(x.code == "expression-invalid" for x in report.findings):
        return set()  # a rule the checker cannot read is not checked on import either
    return {x.row for x in report.findings if x.column in (f.name, None) and x.row is not None}


def _calculate(eng, level: _Rows, f: Field, data: list[dict[str, Any]]) -> list[str | None]:
    """A calculate field's value per row, by the form's expression compiler (None where it cannot)."""
    from passage.checks import form_rules
    from passage.forms import expr

    fields = level.fields + level.outer
    cols = ["_row", "_file", "_sheet", "_submission_time", *(x.name for x in fields)]
    _table(eng, "gen_t", cols, data)
    types = {x.name: x.type for x in fields}
    try:
        make_opts = getattr(form_rules, "options", None)
        if make_opts is not None:
            sub = dataclasses.replace(level.form, fields=fields)
            sql = expr.to_sql(f.calculation, types, self_field=f.name, options=make_opts(sub))
        else:
            sql = expr.to_sql(f.calculation, types, self_field=f.name)
        got = eng.execute(f"SELECT CAST(({sql}) AS VARCHAR) FROM gen_t ORDER BY _row").fetchall()
    except Exception:  # noqa: BLE001 - an expression the compiler refuses (the import cannot check it either)
        # what a device would have computed is unknown: a plausible number for arithmetic, else empty
        numeric = re.search(r"\b(div|mod|round|sqrt|pow|int|sum|count|cos|sin|tan|atan|exp|log)\b|[*+]",
                            f.calculation or "")
        return [_fmt(round(10 + 5 * (i % 3) + 0.25, 2)) if numeric else None for i in range(len(data))]
    out: list[str | None] = []
    for (v,) in got:
        if v is None or v == "":
            out.append(None)
            continue
        try:
            num = float(v)
            out.append(_fmt(num) if math.isfinite(num) and abs(num) < 1e15 else v)
        except ValueError:
            out.append("true" if v == "true" else "false" if v == "false" else v)
    return out


def _fill(eng, level: _Rows, rng: random.Random) -> None:
    for f in level.fields:
        if f.type == "calculate":
            data = [{**level.context(r), **{k: v for k, v in r.items() if not k.startswith("__")}, "_row": str(i),
                     "_submission_time": r["__when"].isoformat(timespec="seconds")}
                    for i, r in enumerate(level.rows)]
            for r, v in zip(level.rows, _calculate(eng, level, f, data)):
                r[f.name] = v
            continue
        per_row = [candidates(f, rng, r["__when"]) for r in level.rows]
        if not _has_rules(f):
            for r, cands in zip(level.rows, per_row):
                optional_blank = not f.required and rng.random() < 0.1
                r[f.name] = None if optional_blank else cands[0]
            continue
        data = []
        for i, (r, cands) in enumerate(zip(level.rows, per_row)):
            base = {**level.context(r), **{k: v for k, v in r.items() if not k.startswith("__")}}
            base["_submission_time"] = r["__when"].isoformat(timespec="seconds")
            for k, v in enumerate(cands):
                data.append({**base, f.name: v, "_row": str(i * CANDIDATES + k)})
        bad = _bad_rows(eng, level, f, data)
        for i, (r, cands) in enumerate(zip(level.rows, per_row)):
            ok = [v for k, v in enumerate(cands) if i * CANDIDATES + k not in bad]
            r[f.name] = ok[0] if ok else None


def _repeat_count(eng, level: _Rows, r: str, rng: random.Random, most: int) -> list[int]:
    """Instances of repeat `r` under each row of `level`: its repeat_count where the form has one."""
    expression = getattr(level.form, "repeat_counts", {}).get(r)
    if expression:
        fake = Field(name="__count", type="calculate", calculation=expression, path="__count", repeat=level.repeat)
        data = [{**level.context(row), **{k: v for k, v in row.items() if not k.startswith("__")},
                 "_row": str(i), "_submission_time": row["__when"].isoformat(timespec="seconds")}
                for i, row in enumerate(level.rows)]
        got = _calculate(eng, level, fake, data)
        out = []
        for v in got:
            try:
                out.append(max(0, min(int(float(v)), 20)))
            except (TypeError, ValueError):
                out.append(0)
        return out
    return [rng.randint(1, most) for _ in level.rows]


def submissions(form: Form, n: int = 5, seed: int = 0, *, most: int = 3) -> list[dict[str, Any]]:
    """`n` plausible submissions of `form` (1..`most` instances per repeat), deterministic for `seed`."""
    rng = random.Random(seed)
    eng = duckdb.connect()
    try:
        top = [{"__when": SUBMITTED + timedelta(hours=i), "__children": {}} for i in range(n)]
        levels: dict[str | None, list[dict[str, Any]]] = {None: top}
        _fill(eng, _Rows(form, None, top), rng)
        for r in form.repeats:  # outermost first
            parents = levels[parent_repeat(form, r)]
            counts = _repeat_count(eng, _Rows(form, parent_repeat(form, r), parents), r, rng, most)
            rows = []
            for p, k in zip(parents, counts):
                mine = [{"__when": p["__when"], "__parent": p, "__children": {}} for _ in range(k)]
                p["__children"][r] = mine
                rows.extend(mine)
            if rows:
                _fill(eng, _Rows(form, r, rows), rng)
            levels[r] = rows
    finally:
        eng.close()

    def as_paths(row: dict[str, Any], r: str | None) -> dict[str, Any]:
        out: dict[str, Any] = {f.path: row.get(f.name) for f in level_fields(form, r)}
        for c in children(form, r):
            out[repeat_path(form, c)] = [as_paths(x, c) for x in row["__children"].get(c, [])]
        return out

    subs = []
    for i, row in enumerate(top):
        s = as_paths(row, None)
        s["_uuid"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        s["_submission_time"] = row["__when"].isoformat(timespec="seconds")
        subs.append(s)
    return subs


# --------------------------------------------------------------------------- layouts

def _header(f: Field, headers: str, group_sep: str) -> str:
    """A field's column header: its path with the chosen separator ("" = bare name), or its label."""
    segs = f.path.split("/")
    if headers == "label" and f.label.strip():
        name = " ".join(f.label.split())
        return group_sep.join([*segs[:-1], name]) if group_sep else name
    return group_sep.join(segs) if group_sep else xml_name(f)


def _kobo_value(f: Field, v: str | None, xlsx: bool) -> Any:
    if v is None or not xlsx:
        return v
    try:
        if f.type in ("integer", "int"):
            return int(v)
        if f.type in ("decimal", "range"):
            x = float(v)
            return int(x) if x.is_integer() else x
        if f.type == "date":
            return datetime.fromisoformat(v)
    except ValueError:
        return v
    return v


def _kobo_columns(form: Form, r: str | None, sub: dict[str, Any] | None, headers: str, group_sep: str,
                  xlsx: bool) -> list[tuple[str, Any]]:
    """(header, value) of one Kobo row's form columns, in form order (media _URL and geopoint parts after
    their field, select_multiple 0/1 columns after the answer)."""
    out: list[tuple[str, Any]] = []
    for f in level_fields(form, r):
        v = sub.get(f.path) if sub is not None else None
        h = _header(f, headers, group_sep)
        out.append((h, _kobo_value(f, v, xlsx)))
        if f.type in MEDIA:
            url = f"https://kc.kobotoolbox.org/media/original?media_file=enum/attachments/{v}" if v else None
            out.append((f"{h}_URL", url))
        if f.type == "geopoint":
            parts = (v or "").split()
            for k, part in enumerate(("latitude", "longitude", "altitude", "precision")):
                out.append((f"_{xml_name(f)}_{part}", parts[k] if k < len(parts) else None))
        if f.type == "select_multiple" and f.choices:
            chosen = set((v or "").split())
            for c in f.choices:
                out.append((f"{h}{group_sep or '/'}{c}", (1 if c in chosen else 0) if v else None))
    return out


def _kobo_main_rows(form: Form, subs: list[dict[str, Any]], headers: str, group_sep: str, xlsx: bool):
    # Kobo writes `start` and `end` first; a form that declares them has them among its own columns.
    own = {xml_name(f) for f in form.top_fields()}
    timing = [k for k in ("start", "end") if k not in own]
    cols = list(timing)
    rows = []
    for i, s in enumerate(subs, start=1):
        when = datetime.fromisoformat(s["_submission_time"])
        meta = {"start": (when - timedelta(minutes=25)).isoformat(timespec="milliseconds") + "+01:00",
                "end": (when - timedelta(minutes=3)).isoformat(timespec="milliseconds") + "+01:00",
                "_id": 400000000 + i, "_uuid": s["_uuid"], "_submission_time": s["_submission_time"],
                "_validation_status": None, "_notes": None, "_status": "submitted_via_web",
                "_submitted_by": "enumerator", "__version__": "vA1b2C3d4E5f6G7h8", "_tags": None, "_index": i}
        rows.append([*(meta[k] for k in timing), *(v for _, v in _kobo_columns(form, None, s, headers, group_sep,
                                                                                xlsx)),
                     *(meta[k] for k in KOBO_META)])
    cols += [h for h, _ in _kobo_columns(form, None, None, headers, group_sep, xlsx)] + KOBO_META
    return cols, rows


def write_kobo_csv(form: Form, subs: list[dict[str, Any]], path: Path, *, sep: str = ";", headers: str = "xml",
                   group_sep: str = "/") -> Path:
    """Kobo's CSV export (the main records; a CSV holds no repeat rows): every value quoted."""
    cols, rows = _kobo_main_rows(form, subs, headers, group_sep, xlsx=False)
    with Path(path).open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, delimiter=sep, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
        w.writerow(cols)
        for row in rows:
            w.writerow(["" if v is None else v for v in row])
    return Path(path)


def write_kobo_xlsx(form: Form, subs: list[dict[str, Any]], path: Path, *, headers: str = "xml",
                    group_sep: str = "/", main_sheet: str | None = None, before: list[str] = ()) -> Path:
    """Kobo's XLSX export: the main sheet (the form's title) and one sheet per repeat, linked by
    `_parent_index` = the parent sheet's `_index`. `before`: sheets (with a line of text) put first."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name in before:
        wb.create_sheet(name).append(["Exported from KoboToolbox"])
    title = (main_sheet or form.title or form.form_id)[:31]
    ws = wb.create_sheet(title)
    cols, rows = _kobo_main_rows(form, subs, headers, group_sep, xlsx=True)
    ws.append(cols)
    for row in rows:
        ws.append(row)
    # each repeat's rows: (instance, its _index, the parent's _index, the submission)
    index: dict[int, int] = {id(s): i for i, s in enumerate(subs, start=1)}
    for r in form.repeats:
        rpath, parent = repeat_path(form, r), parent_repeat(form, r)
        sheet = wb.create_sheet(repeat_name(form, r)[:31])
        meta_cols = KOBO_REPEAT_META
        sheet.append([h for h, _ in _kobo_columns(form, r, None, headers, group_sep, True)] + meta_cols)
        owners = _instances(form, subs, parent)
        n = 0
        for inst, sub in owners:
            for child in inst.get(rpath, []):
                n += 1
                index[id(child)] = n
                when = sub["_submission_time"]
                meta = [n, (parent and repeat_name(form, parent)) or title, index[id(inst)],
                        400000000 + index[id(sub)], sub["_uuid"], when, None, None, "submitted_via_web",
                        "enumerator", "vA1b2C3d4E5f6G7h8", None]
                sheet.append([v for _, v in _kobo_columns(form, r, child, headers, group_sep, True)] + meta)
    for sheet in wb.worksheets:
        for row in sheet.iter_rows(min_row=2):
            for cell in row:
                if isinstance(cell.value, datetime):
                    cell.number_format = "yyyy-mm-dd"
    wb.save(path)
    return Path(path)


def _instances(form: Form, subs: list[dict[str, Any]], r: str | None) -> list[tuple[dict, dict]]:
    """(instance, its submission) of a level, in export order."""
    if r is None:
        return [(s, s) for s in subs]
    rpath = repeat_path(form, r)
    return [(child, sub) for inst, sub in _instances(form, subs, parent_repeat(form, r))
            for child in inst.get(rpath, [])]


def _odk_columns(form: Form, r: str | None, inst: dict[str, Any] | None) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for f in level_fields(form, r):
        h = f.path.replace("/", "-")
        v = inst.get(f.path) if inst is not None else None
        if f.type == "geopoint":
            parts = (v or "").split()
            out += [(f"{h}-{p}", parts[k] if k < len(parts) else None) for k, p in enumerate(GEO_PARTS)]
        else:
            out.append((h, v))
    return out


def write_odk_zip(form: Form, subs: list[dict[str, Any]], path: Path) -> Path:
    """ODK Central's CSV zip: `<form id>.csv` (SubmissionDate, fields by `-` paths, geopoints split in four,
    meta-instanceID, KEY, ...) and `<form id>-<repeat>.csv` per repeat (its fields, PARENT_KEY, KEY)."""
    keys: dict[int, str] = {}
    files: dict[str, list[list[Any]]] = {}
    main = [["SubmissionDate", *(h for h, _ in _odk_columns(form, None, None)), *ODK_TAIL]]
    for s in subs:
        key = "uuid:" + s["_uuid"]
        keys[id(s)] = key
        when = datetime.fromisoformat(s["_submission_time"])
        main.append([when.isoformat(timespec="milliseconds") + "Z", *(v for _, v in _odk_columns(form, None, s)),
                     key, key, "5", "enumerator", "0", "0", None, None, "collect:abc123", "0", "2025011501"])
    files[f"{form.form_id}.csv"] = main
    for r in form.repeats:
        rpath, name = repeat_path(form, r), repeat_name(form, r)
        rows = [[*(h for h, _ in _odk_columns(form, r, None)), "PARENT_KEY", "KEY"]]
        for inst, _ in _instances(form, subs, parent_repeat(form, r)):
            for k, child in enumerate(inst.get(rpath, []), start=1):
                key = f"{keys[id(inst)]}/{name}[{k}]"
                keys[id(child)] = key
                rows.append([*(v for _, v in _odk_columns(form, r, child)), keys[id(inst)], key])
        files[f"{form.form_id}-{name}.csv"] = rows
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, rows in files.items():
            buf = io.StringIO()
            w = csv.writer(buf, lineterminator="\n")
            for row in rows:
                w.writerow(["" if v is None else v for v in row])
            z.writestr(name, buf.getvalue())
    return Path(path)


def write_all(form: Form, subs: list[dict[str, Any]], folder: Path) -> dict[str, Path]:
    """Every layout of the same submissions: {layout: file}. Label layouts only when labels are unique."""
    folder = Path(folder)
    out = {
        "kobo-csv-semicolon": write_kobo_csv(form, subs, folder / "kobo_semicolon.csv", sep=";"),
        "kobo-csv-comma-dash": write_kobo_csv(form, subs, folder / "kobo_comma.csv", sep=",", group_sep="-"),
        "kobo-xlsx": write_kobo_xlsx(form, subs, folder / "kobo.xlsx"),
        "kobo-xlsx-colon": write_kobo_xlsx(form, subs, folder / "kobo_colon.xlsx", group_sep=":"),
        "odk-central-zip": write_odk_zip(form, subs, folder / "odk_central.zip"),
    }
    if labels_unique(form):
        out["kobo-xlsx-labels"] = write_kobo_xlsx(form, subs, folder / "kobo_labels.xlsx", headers="label")
        out["kobo-csv-labels"] = write_kobo_csv(form, subs, folder / "kobo_labels.csv", headers="label")
    return out
