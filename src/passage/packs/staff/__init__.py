"""Staff statistics: the year-end register's tables (the annual report's Annexes I-III) and the consistency
rules run over them. Import a register with `passage.ingest.import_files(store, "staff-register", [path])`."""

from passage.packs.staff.rules import RuleResult, check, load_rules, printed_tables
from passage.packs.staff.tables import Table, staff_tables, write_staff_tables

__all__ = ["RuleResult", "Table", "check", "load_rules", "printed_tables", "staff_tables", "write_staff_tables"]
