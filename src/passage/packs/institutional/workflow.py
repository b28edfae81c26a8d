"""The yearly questionnaire of one office: draft -> submitted -> approved -> locked, and reopen.

* **draft**: the office's editors fill it in (portal form, or an export imported); every save is a
  new version of the record `<office>|<year>` (`passage.records`).
* **submitted** by the office (an editor scoped to the office, or an admin) once every mandatory
  question that applies is answered; answers can no longer change.
* **approved** by the office above it: for a country office its regional office, for a regional
  office headquarters (an editor scoped to that office, or an admin).
* **locked** by headquarters (an editor scoped to `HQ`, or an admin): final for the annual report.
* **reopen** back to draft from any of these, with a reason: by the approving office (or an admin);
  a locked questionnaire only by headquarters (or an admin).

Each change is one transaction: the state row, a row of `questionnaire_history` (who, when, from,
to, reason, the record version it applied to) and an audit-log entry `questionnaire.<action>`.
A questionnaire with a record but no state row is a draft; with neither it is `not_started`.

Approvers' work queue: `tasks(store, principal, year)` lists the questionnaires waiting for them (a regional
office's editors: the submitted ones of that region; headquarters and admins: every submitted or approved one),
and `act_many` applies one action to several offices, each a transition of its own (authorised, recorded and
audited exactly as one `act`), so one refusal leaves the others done.
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from passage.auth.audit import audit, now
from passage.auth.principal import Principal
from passage.errors import Forbidden, PassageError
from passage.packs.institutional.form import FORM_ID, Questionnaire, as_text, load_questionnaire, relevance
from passage.packs.institutional.offices import LEVELS, Office, get_office
from passage.store import Store
from passage.store.schema import bump_generation

STATES = ("draft", "submitted", "approved", "locked")
NOT_STARTED = "not_started"
FROZEN = ("submitted", "approved", "locked")
# action -> (states it starts from, state it leads to)
TRANSITIONS = {
    "submit": (("draft",), "submitted"),
    "approve": (("submitted",), "approved"),
    "lock": (("approved",), "locked"),
    "reopen": (("submitted", "approved", "locked"), "draft"),
}
MIN_REASON = 5


class WorkflowError(PassageError):
    """The questionnaire's state does not allow this (HTTP 409)."""

    code = "questionnaire.state"
    http_status = 409


@dataclass(frozen=True)
class Task:
    """A questionnaire waiting for someone's approval or lock."""

    office: str
    name: str
    region: str | None
    state: str  # submitted | approved
    changed_at: Any
    changed_by: str | None
    actions: tuple[str, ...]  # what the principal may do now: approve, lock


@dataclass(frozen=True)
class Outcome:
    """One office's result in `act_many`: the new state, or why not (an error code and message)."""

    office: str
    ok: bool
    state: str | None = None
    code: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class Event:
    event_id: int
    office: str
    year: int
    action: str
    from_state: str | None
    to_state: str
    user: str | None
    reason: str | None
    record_version: int | None
    occurred_at: Any


def record_id(office: str, year: int) -> str:
    """The record id the pack's key (office, year) gives."""
    return f"{office.upper()}|{int(year)}"


def current_answers(store: Store, office: str, year: int) -> dict[str, Any] | None:
    """The current version of an office's answers for a year (with `_version`), or None."""
    if not store.table_exists(f"rec_{FORM_ID}"):
        return None
    names, rows = store.columns(f"SELECT * FROM rec_{FORM_ID} WHERE _record_id = ? AND _current AND NOT _deleted",
                                [record_id(office, year)])
    return dict(zip(names, rows[0])) if rows else None


def state(store: Store, office: str, year: int) -> str:
    row = store.scalar("SELECT state FROM questionnaire_states WHERE office_code = ? AND year = ?",
                       [office.upper(), int(year)])
    if row:
        return row
    return "draft" if current_answers(store, office, year) is not None else NOT_STARTED


def states(store: Store, year: int) -> dict[str, str]:
    """Every office's state for a year (offices without answers are `not_started`)."""
    out = {code: NOT_STARTED for (code,) in store.query("SELECT code FROM places WHERE kind = 'office'")}
    if store.table_exists(f"rec_{FORM_ID}"):
        for (office,) in store.query(f"SELECT DISTINCT office FROM {FORM_ID} WHERE year = ?", [int(year)]):
            out[office] = "draft"
    out.update(dict(store.query("SELECT office_code, state FROM questionnaire_states WHERE year = ?", [int(year)])))
    return out


def history(store: Store, office: str, year: int) -> list[Event]:
    rows = store.query(
        "SELECT event_id, office_code, year, action, from_state, to_state, user_name, reason, record_version, "
        "occurred_at FROM questionnaire_history WHERE office_code = ? AND year = ? ORDER BY event_id",
        [office.upper(), int(year)])
    return [Event(*r) for r in rows]


# ---- who may do what ------------------------------------------------------------------------------------

def _scoped(principal: Principal, office_code: str | None) -> bool:
    return bool(office_code) and principal.role == "editor" and office_code in principal.scopes


def _hq_code(store: Store) -> str | None:
    return store.scalar("SELECT code FROM places WHERE kind = 'office' AND level = ? ORDER BY code LIMIT 1", [LEVELS["hq"]])


def can_answer(principal: Principal, office: Office) -> bool:
    """Fill in and submit: the office's own editors."""
    return principal.is_admin or _scoped(principal, office.code)


def can_approve(principal: Principal, office: Office) -> bool:
    """Approve, and reopen a submitted or approved questionnaire: the office above."""
    return principal.is_admin or _scoped(principal, office.parent)


def can_lock(store: Store, principal: Principal) -> bool:
    """Lock, and reopen a locked questionnaire: headquarters."""
    return principal.is_admin or _scoped(principal, _hq_code(store))


def allowed_actions(store: Store, principal: Principal, office: Office, year: int) -> list[str]:
    """The actions this principal may take now (for the portal's buttons)."""
    now_state = state(store, office.code, year)
    out = []
    for action, (sources, _) in TRANSITIONS.items():
        if now_state in sources and _permitted(store, principal, office, action, now_state):
            out.append(action)
    return out


def _permitted(store: Store, principal: Principal, office: Office, action: str, from_state: str) -> bool:
    if action == "submit":
        return can_answer(principal, office)
    if action == "approve":
        return can_approve(principal, office)
    if action == "lock" or (action == "reopen" and from_state == "locked"):
        return can_lock(store, principal)
    return can_approve(principal, office)  # reopen a submitted or approved questionnaire


def _offices_above(store: Store, principal: Principal) -> tuple[bool, set[str]]:
    """(headquarters or admin, the regional offices this principal is an editor of)."""
    if principal.is_admin:
        return True, set()
    if principal.role != "editor" or not principal.scopes:
        return False, set()
    scopes = sorted(principal.scopes)
    marks = ", ".join("?" for _ in scopes)
    rows = store.query(f"SELECT code, level FROM places WHERE kind = 'office' AND level IN (?, ?) AND code IN ({marks})",
                       [LEVELS["hq"], LEVELS["regional"], *scopes])
    return (any(level == LEVELS["hq"] for _, level in rows),
            {code for code, level in rows if level == LEVELS["regional"]})


def approves(store: Store, principal: Principal) -> bool:
    """Whether this principal approves or locks questionnaires at all (a regional office's or headquarters'
    editor, or an admin): the portal shows them a "my tasks" link."""
    hq, regions = _offices_above(store, principal)
    return hq or bool(regions)


def tasks(store: Store, principal: Principal, year: int) -> list[Task]:
    """The questionnaires waiting for this principal in a year, by region and office.

    A regional office's editors: the submitted questionnaires of the offices under it. Headquarters' editors and
    admins: every submitted or approved questionnaire (headquarters approves the regional offices' own and locks
    approved ones). Each task carries the actions the principal may take on it now (the same rule as the
    single-office buttons); a task may have none (e.g. a country office's submission, for headquarters).
    """
    from passage.packs.institutional.offices import list_offices

    hq, regions = _offices_above(store, principal)
    if not hq and not regions:
        return []
    wanted = ("submitted", "approved") if hq else ("submitted",)
    rows = {o: (s, at, by) for o, s, at, by in store.query(
        "SELECT office_code, state, changed_at, changed_by FROM questionnaire_states WHERE year = ? "
        "AND state IN (?, ?)", [int(year), "submitted", "approved"]) if s in wanted}
    out = []
    for office in list_offices(store):
        if office.code not in rows or not (hq or office.parent in regions):
            continue
        now_state, at, by = rows[office.code]
        actions = tuple(a for a in ("approve", "lock")
                        if now_state in TRANSITIONS[a][0] and _permitted(store, principal, office, a, now_state))
        out.append(Task(office.code, office.name, office.region, now_state, at, by, actions))
    return sorted(out, key=lambda t: (t.region or "", t.office))


def act_many(store: Store, action: str, offices: Iterable[str], year: int, principal: Principal, *,
             reason: str | None = None, ip: str | None = None) -> list[Outcome]:
    """One action on several offices' questionnaires (the portal's bulk approve and lock).

    Each office is its own transition, authorised, recorded in the history and audited exactly as `act` does
    it: a refused office (wrong state, not this principal's to approve, unknown) is an Outcome with the error's
    code and message, and the others go ahead.

        act_many(store, "approve", ["CO-THA", "CO-VNM"], 2020, approver)   # [Outcome("CO-THA", True, "approved"), ...]
    """
    if action not in TRANSITIONS:
        from passage.errors import UsageError

        raise UsageError(f"unknown action {action!r}; one of {', '.join(TRANSITIONS)}")
    codes = list(dict.fromkeys(str(o).strip().upper() for o in offices if str(o).strip()))
    if not codes:
        from passage.errors import UsageError

        raise UsageError("no office chosen: tick at least one", code="usage.no_office")
    out = []
    for code in codes:
        try:
            out.append(Outcome(code, True, act(store, action, code, year, principal, reason=reason, ip=ip)))
        except PassageError as exc:
            out.append(Outcome(code, False, code=exc.code, message=str(exc)))
    return out


def status_rows(store: Store, year: int, region: str | None = None) -> list[dict[str, Any]]:
    """Every office's questionnaire for a year (headquarters aside): office, name, kind, region, state, the
    record version the state applies to, when and by whom it last changed. `region`: one regional office's."""
    from passage.packs.institutional.offices import list_offices

    now = states(store, year)
    changes = {o: (v, at, by) for o, v, at, by in store.query(
        "SELECT office_code, record_version, changed_at, changed_by FROM questionnaire_states WHERE year = ?",
        [int(year)])}
    out = []
    for o in list_offices(store, region):
        if o.kind == "hq":
            continue
        version, at, by = changes.get(o.code, (None, None, None))
        out.append({"office": o.code, "name": o.name, "kind": o.kind, "region": o.region,
                    "state": now.get(o.code, NOT_STARTED), "record_version": version, "changed_at": at,
                    "changed_by": by})
    return out


# ---- transitions ----------------------------------------------------------------------------------------

def missing_answers(store: Store, office: str, year: int, qn: Questionnaire | None = None) -> list[str]:
    """Mandatory questions that apply to these answers and have none."""
    qn = qn or load_questionnaire()
    answers = current_answers(store, office, year) or {}
    applies = relevance(qn, answers)
    return [q.name for q in qn.questions
            if q.mandatory and applies[q.name] and as_text(q, answers.get(q.name)) is None]


def _transition(store: Store, office_code: str, year: int, action: str, principal: Principal, *,
                reason: str | None = None, ip: str | None = None) -> str:
    office = get_office(store, office_code)
    year = int(year)
    sources, target = TRANSITIONS[action]
    reason = (reason or "").strip() or None
    if action == "reopen" and (reason is None or len(reason) < MIN_REASON):
        raise WorkflowError(f"reopening needs a reason (at least {MIN_REASON} characters): say what must change",
                            code="questionnaire.reason_required")
    with store.load_lock(FORM_ID), store.transaction():  # answers being loaded are checked against this state
        current = state(store, office.code, year)
        if current not in sources:
            hint = " (reopen it first)" if current in FROZEN and action == "submit" else ""
            raise WorkflowError(f"cannot {action} the {year} questionnaire of {office.code}: it is "
                                f"{current.replace('_', ' ')}; {action} needs it {' or '.join(sources)}{hint}")
        if not _permitted(store, principal, office, action, current):
            who = {"submit": f"an editor of {office.code}", "approve": f"an editor of {office.parent}",
                   "lock": "headquarters"}.get(action, "the approving office")
            raise Forbidden(f"{principal.user_name or 'the public'} may not {action} the questionnaire of "
                            f"{office.code}: that is for {who} or an admin")
        if action == "submit":
            missing = missing_answers(store, office.code, year)
            if missing:
                raise WorkflowError(f"cannot submit: {len(missing)} mandatory question(s) unanswered: "
                                    + ", ".join(missing[:12]) + (" …" if len(missing) > 12 else ""),
                                    code="questionnaire.incomplete")
        answers = current_answers(store, office.code, year)
        version = answers["_version"] if answers else None
        _write(store, office.code, year, action, current, target, principal.user_name, reason, version)
        audit(store, principal.user_name, f"questionnaire.{action}", target=f"{office.code}/{year}", ip=ip,
              detail={"from": current, "to": target, "reason": reason, "record_version": version})
        bump_generation(store)
    return target


def _write(store: Store, office: str, year: int, action: str, from_state: str | None, to_state: str,
           user: str | None, reason: str | None, version: int | None) -> None:
    at = now()
    store.execute("DELETE FROM questionnaire_states WHERE office_code = ? AND year = ?", [office, year])
    store.execute("INSERT INTO questionnaire_states VALUES (?, ?, ?, ?, ?, ?)",
                  [office, year, to_state, version, at, user])
    store.execute("INSERT INTO questionnaire_history VALUES (nextval('questionnaire_event_ids'), ?, ?, ?, ?, ?, ?, "
                  "?, ?, ?)", [office, year, action, from_state, to_state, user, reason, version, at])


def submit(store: Store, office: str, year: int, principal: Principal, *, ip: str | None = None) -> str:
    return _transition(store, office, year, "submit", principal, ip=ip)


def approve(store: Store, office: str, year: int, principal: Principal, *, ip: str | None = None) -> str:
    return _transition(store, office, year, "approve", principal, ip=ip)


def lock(store: Store, office: str, year: int, principal: Principal, *, ip: str | None = None) -> str:
    return _transition(store, office, year, "lock", principal, ip=ip)


def reopen(store: Store, office: str, year: int, principal: Principal, reason: str, *,
           ip: str | None = None) -> str:
    return _transition(store, office, year, "reopen", principal, reason=reason, ip=ip)


def act(store: Store, action: str, office: str, year: int, principal: Principal, *, reason: str | None = None,
        ip: str | None = None) -> str:
    """One of submit, approve, lock, reopen by name (the CLI and the portal's buttons)."""
    if action not in TRANSITIONS:
        from passage.errors import UsageError

        raise UsageError(f"unknown action {action!r}; one of {', '.join(TRANSITIONS)}")
    return _transition(store, office, year, action, principal, reason=reason, ip=ip)


def record_states(store: Store, year: int, wanted: dict[str, str], *, user: str | None, reason: str) -> int:
    """Set states as an earlier system left them (data carried over from before Passage, the demo): no
    transition rules, but each change is in the history and the audit log like any other."""
    year = int(year)
    bad = sorted({s for s in wanted.values() if s not in STATES})
    if bad:
        raise WorkflowError(f"unknown state(s) {', '.join(bad)}; one of {', '.join(STATES)}")
    offices = sorted(wanted)
    versions: dict[str, int] = {}
    if offices and store.table_exists(f"rec_{FORM_ID}"):
        marks = ", ".join("?" for _ in offices)
        versions = dict(store.query(f"SELECT office, _version FROM rec_{FORM_ID} WHERE _current AND NOT _deleted "
                                    f"AND year = ? AND office IN ({marks})", [year, *offices]))
    at = now()
    with store.load_lock(FORM_ID), store.transaction():
        for i in range(0, len(offices), 200):
            chunk = offices[i:i + 200]
            marks = ", ".join("?" for _ in chunk)
            store.execute(f"DELETE FROM questionnaire_states WHERE year = ? AND office_code IN ({marks})",
                          [year, *chunk])
            store.execute("INSERT INTO questionnaire_states VALUES " + ", ".join("(?, ?, ?, ?, ?, ?)" for _ in chunk),
                          [v for o in chunk for v in (o, year, wanted[o], versions.get(o), at, user)])
            store.execute("INSERT INTO questionnaire_history VALUES " + ", ".join(
                "(nextval('questionnaire_event_ids'), ?, ?, 'record', NULL, ?, ?, ?, ?, ?)" for _ in chunk),
                [v for o in chunk for v in (o, year, wanted[o], user, reason, versions.get(o), at)])
        audit(store, user, "questionnaire.record_states", target=str(year),
              detail={"offices": len(wanted), "reason": reason})
        bump_generation(store)
    return len(wanted)


# ---- answers ----------------------------------------------------------------------------------------------

def frozen_states(store: Store) -> dict[tuple[str, int], str]:
    """(office, year) -> state, for the questionnaires whose answers may no longer change."""
    rows = store.query("SELECT office_code, year, state FROM questionnaire_states WHERE state IN (?, ?, ?)",
                       list(FROZEN))
    return {(o, int(y)): s for o, y, s in rows}


def import_answers(store: Store, paths: Iterable[Path], *, principal: Principal | None = None,
                   user: str | None = None, update: bool = False, progress=None):
    """Import answers (a Kobo/ODK export of the questionnaire, CSV or XLSX) through the one import pipeline.

    Rows for offices outside the principal's scopes (`out-of-scope`), for unknown offices (`institutional.office-unknown`)
    and for questionnaires that are no longer drafts (`institutional.questionnaire-workflow`) are located errors, and
    nothing is imported then. Without a principal (a trusted caller) `user` is recorded as the importer.
    Returns the pipeline's ImportResult.
    """
    from passage.access import import_scopes
    from passage.ingest.pipeline import import_files
    from passage.packs.institutional.importer import LOCKED_STATES

    scopes = None if principal is None else import_scopes(principal)
    token = LOCKED_STATES.set(frozen_states(store))
    try:
        return import_files(store, "questionnaire", [Path(p) for p in paths], update=update,
                            user=principal.user_name if principal else user, scopes=scopes, progress=progress)
    finally:
        LOCKED_STATES.reset(token)


def save_answers(store: Store, office_code: str, year: int, answers: dict[str, Any], principal: Principal):
    """Save a draft from the portal's form: a new version of the office's record, validated by the same
    checks as any import (the result's report says what is wrong). Answers to questions that do not apply
    are dropped, as ODK does. WorkflowError once the questionnaire is submitted."""
    office = get_office(store, office_code)
    year = int(year)
    if not can_answer(principal, office):
        raise Forbidden(f"{principal.user_name or 'the public'} may not answer for {office.code}")
    current = state(store, office.code, year)
    if current in FROZEN:
        raise WorkflowError(f"the {year} questionnaire of {office.code} is {current}: answers cannot change "
                            "until it is reopened", code="questionnaire.frozen")
    qn = load_questionnaire()
    values = {q.name: as_text(q, answers.get(q.name)) for q in qn.questions}
    applies = relevance(qn, values)
    values = {k: (v if applies[k] else None) for k, v in values.items()}
    names = ["office", "year", *values]
    with tempfile.TemporaryDirectory(prefix="passage-questionnaire-") as d:
        path = Path(d) / f"questionnaire-{office.code}-{year}.csv"
        with path.open("w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(names)
            w.writerow([office.code, year, *["" if v is None else v for v in values.values()]])
        return import_answers(store, [path], principal=principal, update=True)


def submit_answers(store: Store, office_code: str, year: int, answers: dict[str, Any], principal: Principal, *,
                   ip: str | None = None):
    """Save these answers, then submit: the portal's Submit button sends what is on the page, so nothing typed
    since the last save is lost. Returns (the save's ImportResult, the new state or None when the answers were
    refused: nothing is submitted then). The save stays when the submission is refused (WorkflowError, e.g.
    mandatory questions unanswered): the answers are kept as a draft."""
    result = save_answers(store, office_code, year, answers, principal)
    if not result.ok:
        return result, None
    return result, submit(store, office_code, year, principal, ip=ip)


def check_edit(store: Store, form_id: str, old: dict, new_text: dict, target: str, report: Any) -> None:
    """A questionnaire's answers change only while it is a draft (as `passage import questionnaire` rules)."""
    from passage.findings import Finding

    if form_id != FORM_ID:
        return
    seen = set()
    for office, year in ((old.get("office"), old.get("year")), (new_text.get("office"), new_text.get("year"))):
        try:
            key = (str(office).strip().upper(), int(str(year).strip()))
        except (TypeError, ValueError):
            continue  # reported by the type checks
        if key in seen or not key[0]:
            continue
        seen.add(key)
        current = state(store, *key)
        if current in FROZEN:
            report.add(Finding("institutional.questionnaire-workflow", "this office's questionnaire for the year is no longer "
                               "a draft: reopen it first (`passage questionnaire reopen OFFICE --year YEAR "
                               "--reason TEXT`)", file=target, column="office", value=f"{key[0]} {key[1]} is {current}"))
