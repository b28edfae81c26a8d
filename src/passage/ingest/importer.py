"""The importer contract: every hook the import pipeline calls, with its default.

An importer only parses. `stage` turns a provider's files into a staging table of text columns named like
the form's fields; the pipeline (`passage.ingest.pipeline`) does everything else the same way for every
importer: hashing, archiving, checks, keys, loading, the log. The other hooks let an importer add what only it
knows, and each has a default that does nothing, so the pipeline never probes an importer for what it has.

Options a command line or a page passes to an importer (a year, a date order) are a pydantic model,
`Options`, validated before the importer is made: an option the importer does not take is a usage error.

    class SiteVisitImporter(Importer):
        kind, form_id, pack = "site-visits", "site_visit", "sites"
        description = "Site visit sheets (CSV)"

        def stage(self, eng, files, table, report):
            ...  # CREATE TABLE {table} (... VARCHAR, _file, _sheet, _row); return the rows read
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

from passage.errors import UsageError

if TYPE_CHECKING:
    from passage.checks import Context
    from passage.findings import Report
    from passage.forms import Form
    from passage.ingest.files import SourceFile


class NoOptions(BaseModel):
    """An importer that takes no options."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Importer:
    kind: ClassVar[str]
    form_id: ClassVar[str | None] = None  # None: the caller names the form (`--form`)
    pack: ClassVar[str | None] = None  # the pack whose forms are installed before an import
    description: ClassVar[str] = ""
    examples: ClassVar[tuple[str, ...]] = ()  # command lines shown in `passage import --help`
    Options: ClassVar[type[BaseModel]] = NoOptions

    def __init__(self, **options: Any) -> None:
        try:
            self.options = self.Options(**options)
        except ValidationError as exc:
            takes = ", ".join(_option(n) for n in self.Options.model_fields) or "no options"
            problems = [f"`{self.kind}` imports take no {_option(e['loc'][0])} (they take {takes})"
                        if e["type"] == "extra_forbidden" else f"{_option(e['loc'][0])}: {e['msg']}"
                        for e in exc.errors()]
            raise UsageError("; ".join(problems), code="usage.option") from None

    # ---- the pipeline's hooks, in the order it calls them

    def bind_form(self, form: Form, paths: list[Path]) -> Form:
        """The form the files are read by (an export may add fields the form lacks, e.g. a tool's metadata)."""
        return form

    def record_config(self, form: Form, config: dict[str, Any]) -> dict[str, Any]:
        """The records' key, places and checks: the pack's `records:` entry for the form, unless the importer
        knows better (a generic form has no pack entry)."""
        return config

    def stage(self, eng: Any, files: list[SourceFile], table: str, report: Report) -> int:
        """Parse the files into the staging table `table`; return the rows read. Findings go to `report`."""
        raise NotImplementedError

    def after_checks(self, ctx: Context, import_id: int) -> None:
        """Checks and preparations only the importer can make, once the pipeline's checks have run."""

    def check_again(self, ctx: Context) -> None:
        """The importer's checks of what another change may alter meanwhile (a state kept in the store), run again
        under the form's load lock when the store changed since `after_checks`: what loads is what they allow
        now. The pipeline does the same for keys (`unique_key.store_duplicates`)."""

    def extra_columns(self) -> list[tuple[str, str]]:
        """Columns the record table needs beside the form's fields: (name, SQL type)."""
        return []

    def absent_fields(self, repeat: str | None = None) -> set[str]:
        """Fields of the form (or of one repeat) that the staged files did not carry at all: a column the
        file lacks, not an empty cell. `--update` keeps their stored values (`records.load`). The pipeline
        adds by itself the fields a staging table has no column for; an importer that stages every field
        (NULL for a column its file lacked) names them here."""
        return set()

    def file_columns(self) -> dict[str, str]:
        """Form field -> the column the provider's files call it, so findings name the file's own header
        (`numPresentIdpInd`, not the storage column `num_present_idp_ind`). Empty: the files use the form's names."""
        return {}

    def rule_context(self) -> dict[str, Any]:
        """What the form's rules (passage.checks.form_rules) may read beyond the staged row, merged into the
        checks' context: `file_columns` (their messages name the file's headers), `repeat_scope` (a function of
        the checked table giving the repeat rows sum(), count() and indexed-repeat() read), and what the scan of
        files whose cells are their own bytes rules out for every cell (`cell_facts`). Empty: none of these."""
        return {}

    def repeat_tables(self) -> list[tuple[str, str, str]]:
        """Repeat groups loaded beside the records: (repeat name, its staging table, the parents' staging)."""
        return []

    def staging_tables(self) -> list[str]:
        """Staging tables the importer made besides `stage`'s: dropped when the import ends."""
        return [rstage for _, rstage, _ in self.repeat_tables()]

    # ---- record edits (passage.edits) check one edited row as an import of it

    def normalise_edit(self, eng: Any, table: str) -> str:
        """The relation of the staged edited row, normalised as `stage` normalises a file's rows."""
        return table

    def check_edit(self, ctx: Context) -> None:
        """The importer's own row checks (as `after_checks` runs them on a file's rows)."""


def _option(name: object) -> str:
    """An option as the command line spells it (`year` -> `--year`)."""
    return "--" + str(name).replace("_", "-")


def cell_facts(files: list[SourceFile]) -> dict[str, Any]:
    """What the scan of delimited files (`csvscan`, while they were hashed) rules out for every cell staged
    from their bytes, so `form_rules` skips those tests: `nul_free` (no NUL byte anywhere) and
    `line_bytes_at_most` (the longest record). Only for cells that are the files' own text: a JSON string may
    spell a NUL as an escape."""
    shapes = [f.shape for f in files]
    if not shapes or any(s is None for s in shapes):
        return {}
    facts: dict[str, Any] = {"nul_free": not any(s.nul for s in shapes)}
    longest = [s.records.longest for s in shapes]
    if all(n is not None for n in longest):
        facts["line_bytes_at_most"] = max(longest)
    return facts


def name_file_columns(report: Any, names: dict[str, str]) -> None:
    """Findings of `report` with each form field in `names` called as the file calls it: in `column`, and as a
    whole word in the message. A message that names its column's header already (its check knew the file's
    names) is left as it is, and so is a finding about a column the file names as the form does."""
    import re
    from dataclasses import replace

    if not names:
        return
    word = re.compile(r"\b(" + "|".join(map(re.escape, sorted(names, key=len, reverse=True))) + r")\b")

    def named(f: Any) -> Any:
        header = names.get(f.column) if f.column else None
        if f.column and header is None:
            return f
        if header is not None and header in f.message:
            return replace(f, column=header)
        return replace(f, column=header or f.column, message=word.sub(lambda m: names[m.group(1)], f.message))

    report.findings[:] = [named(f) for f in report.findings]
