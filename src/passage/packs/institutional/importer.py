"""`passage import questionnaire FILE`: questionnaire answers (a KoboToolbox/ODK export of the pack's form,
or what the portal's form saves), read exactly as `xlsform-data` reads them, plus what only this form needs:

* the office code (upper-cased) becomes the record's place, so scopes and traces work as for any place;
* every row must name an office of the office list (`institutional.office-unknown`);
* a row for an office whose questionnaire of that year is submitted, approved or locked is refused
  (`institutional.questionnaire-workflow`): reopen it first (`passage questionnaire reopen`).

The workflow states come from the store (DuckDB: the validation engine is the store) or from the snapshot
`passage.packs.institutional.workflow.import_answers` passes for stores whose engine is separate (PostgreSQL).
"""

from __future__ import annotations

from contextvars import ContextVar

import pyarrow as pa

from passage.checks import Context, flag, q
from passage.findings import Finding
from passage.ingest.xlsform_data import XlsformDataImporter

# (office, year) -> state, for offices whose answers may no longer change; set around an import.
LOCKED_STATES: ContextVar[dict[tuple[str, int], str] | None] = ContextVar("questionnaire_locked", default=None)
FROZEN = ("submitted", "approved", "locked")


class QuestionnaireImporter(XlsformDataImporter):
    kind = "questionnaire"
    form_id = "institutional_questionnaire"
    pack = "institutional"
    description = "Answers to the yearly office questionnaire (Kobo/ODK export or the portal's form)"

    def stage(self, eng, files, table, report) -> int:
        n = super().stage(eng, files, table, report)
        if report.ok and table in self._created:
            cols = {r[0] for r in eng.execute(f"DESCRIBE {table}").fetchall()}
            if "office" in cols:
                eng.execute(f"UPDATE {table} SET office = nullif(upper(trim(office)), '')")
                eng.execute(f"ALTER TABLE {table} ADD COLUMN _place_code VARCHAR")
                eng.execute(f"UPDATE {table} SET _place_code = office")
        return n

    def after_checks(self, ctx: Context, import_id: int) -> None:
        super().after_checks(ctx, import_id)
        if "office" not in ctx.columns():
            return
        flag(ctx, "institutional.office-unknown", "office IS NOT NULL AND office NOT IN (SELECT code FROM places WHERE kind = 'office')",
             "office is not in the office list (see `passage offices list`)", column="office", value=q("office"))
        frozen = self._frozen(ctx)
        if frozen is None:
            ctx.report.add(Finding("institutional.questionnaire-workflow", "the questionnaires' workflow states are not available "
                                   "here: import with `passage questionnaire import`", column="office"))
            return
        self._flag_frozen(ctx, frozen)

    def check_again(self, ctx: Context) -> None:
        """Under the load lock, which the workflow's transitions take too: a questionnaire submitted since the
        checks refuses the answers saved for it meanwhile (an autosave racing the Submit button)."""
        from passage.packs.institutional.workflow import frozen_states

        store = ctx.extra.get("store")
        if store is None or "office" not in ctx.columns() or not store.table_exists("questionnaire_states"):
            return
        self._flag_frozen(ctx, frozen_states(store))

    @staticmethod
    def _flag_frozen(ctx: Context, frozen: dict[tuple[str, int], str]) -> None:
        """institutional.questionnaire-workflow on the rows of questionnaires that are no longer drafts."""
        if not frozen:
            return
        t = ctx.table
        name = f"{t}_frozen".replace(".", "_")
        arrow = pa.table({"office": [k[0] for k in frozen], "year": [k[1] for k in frozen],
                          "state": list(frozen.values())})
        ctx.eng.register(name + "_a", arrow)
        ctx.eng.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {name}_a")
        ctx.eng.unregister(name + "_a")
        ctx.extra.setdefault("temp_tables", []).append(name)
        match = f"(SELECT f.state FROM {name} f WHERE f.office = {t}.office AND f.year = TRY_CAST({t}.year AS BIGINT))"
        flag(ctx, "institutional.questionnaire-workflow", f"{match} IS NOT NULL",
             "this office's questionnaire for the year is no longer a draft: reopen it first "
             "(`passage questionnaire reopen OFFICE --year YEAR --reason TEXT`)", column="office",
             value=f"office || ' ' || year || ' is ' || {match}")

    @staticmethod
    def _frozen(ctx: Context) -> dict[tuple[str, int], str] | None:
        snapshot = LOCKED_STATES.get()
        if snapshot is not None:
            return snapshot
        has = ctx.eng.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = "
                              "'questionnaire_states'").fetchall()[0][0]
        if not has:
            return None
        rows = ctx.eng.execute("SELECT office_code, year, state FROM questionnaire_states WHERE state IN "
                               f"({', '.join(repr(s) for s in FROZEN)})").fetchall()
        return {(o, int(y)): s for o, y, s in rows}
