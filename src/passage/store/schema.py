"""System tables, in SQL that DuckDB and PostgreSQL both accept.

Record tables are not here: each form gets its own, made from its XLSForm
(`passage.forms.tables`). The statements below create what a table lacks on every open (`IF NOT EXISTS`);
a change to a table that already holds data is a numbered migration (`passage.store.migrations`).
"""

from __future__ import annotations

import logging

from passage.store.base import Store

log = logging.getLogger("passage.store")

DDL = [
    """CREATE TABLE IF NOT EXISTS passage_meta (key VARCHAR PRIMARY KEY, value VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS places (
        code VARCHAR PRIMARY KEY,
        level INTEGER NOT NULL,
        kind VARCHAR NOT NULL,
        name VARCHAR NOT NULL,
        parent_code VARCHAR,
        country_code VARCHAR NOT NULL,
        valid_from DATE,
        source VARCHAR
    )""",
    """CREATE TABLE IF NOT EXISTS pcode_lengths (
        country_code VARCHAR PRIMARY KEY,
        country_len INTEGER,
        adm1_len VARCHAR,
        adm2_len VARCHAR,
        adm3_len VARCHAR
    )""",
    """CREATE TABLE IF NOT EXISTS forms (
        form_id VARCHAR NOT NULL,
        version VARCHAR NOT NULL,
        title VARCHAR,
        pack VARCHAR,
        sha256 VARCHAR NOT NULL,
        definition VARCHAR NOT NULL,
        installed_at TIMESTAMP NOT NULL,
        PRIMARY KEY (form_id, version)
    )""",
    """CREATE SEQUENCE IF NOT EXISTS import_ids START 1""",
    """CREATE TABLE IF NOT EXISTS imports (
        import_id BIGINT PRIMARY KEY,
        kind VARCHAR NOT NULL,
        form_id VARCHAR,
        files VARCHAR NOT NULL,
        sha256 VARCHAR NOT NULL,
        user_name VARCHAR,
        started_at TIMESTAMP NOT NULL,
        finished_at TIMESTAMP,
        status VARCHAR NOT NULL,
        rows_read BIGINT,
        rows_inserted BIGINT,
        rows_updated BIGINT,
        rows_unchanged BIGINT,
        errors BIGINT,
        warnings BIGINT,
        message VARCHAR
    )""",
    """CREATE TABLE IF NOT EXISTS files (
        sha256 VARCHAR PRIMARY KEY,
        name VARCHAR NOT NULL,
        size BIGINT NOT NULL,
        archived_as VARCHAR NOT NULL,
        first_seen TIMESTAMP NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS import_files (
        import_id BIGINT NOT NULL,
        sha256 VARCHAR NOT NULL,
        position INTEGER NOT NULL
    )""",
    # ---- users and access (passage.auth)
    """CREATE TABLE IF NOT EXISTS users (
        user_name VARCHAR PRIMARY KEY,
        display_name VARCHAR,
        email VARCHAR,
        password_hash VARCHAR NOT NULL,
        role VARCHAR NOT NULL,
        disabled BOOLEAN NOT NULL DEFAULT false,
        created_at TIMESTAMP NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS user_scopes (
        user_name VARCHAR NOT NULL,
        place_code VARCHAR NOT NULL,
        PRIMARY KEY (user_name, place_code)
    )""",
    """CREATE TABLE IF NOT EXISTS api_tokens (
        token_id VARCHAR PRIMARY KEY,
        user_name VARCHAR NOT NULL,
        name VARCHAR NOT NULL,
        token_hash VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL,
        last_used_at TIMESTAMP,
        revoked_at TIMESTAMP,
        expires_at TIMESTAMP
    )""",
    """CREATE TABLE IF NOT EXISTS sessions (
        session_hash VARCHAR PRIMARY KEY,
        user_name VARCHAR NOT NULL,
        csrf_token VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL,
        expires_at TIMESTAMP NOT NULL,
        ip VARCHAR
    )""",
    """CREATE TABLE IF NOT EXISTS login_attempts (
        key VARCHAR NOT NULL,
        occurred_at TIMESTAMP NOT NULL,
        ok BOOLEAN NOT NULL
    )""",
    """CREATE SEQUENCE IF NOT EXISTS audit_ids START 1""",
    """CREATE TABLE IF NOT EXISTS audit_log (
        audit_id BIGINT PRIMARY KEY,
        occurred_at TIMESTAMP NOT NULL,
        user_name VARCHAR,
        action VARCHAR NOT NULL,
        target VARCHAR,
        import_id BIGINT,
        ip VARCHAR,
        detail VARCHAR
    )""",
    # ---- datasets and releases (passage.releases)
    """CREATE TABLE IF NOT EXISTS datasets (
        name VARCHAR PRIMARY KEY,
        visibility VARCHAR NOT NULL,
        metadata VARCHAR NOT NULL
    )""",
    """CREATE SEQUENCE IF NOT EXISTS release_ids START 1""",
    """CREATE TABLE IF NOT EXISTS releases (
        release_id BIGINT PRIMARY KEY,
        dataset VARCHAR NOT NULL,
        country_code VARCHAR NOT NULL,
        published_at TIMESTAMP NOT NULL,
        published_by VARCHAR,
        note VARCHAR
    )""",
    # ---- documents (passage.documents)
    """CREATE SEQUENCE IF NOT EXISTS document_ids START 1""",
    """CREATE TABLE IF NOT EXISTS documents (
        doc_id BIGINT PRIMARY KEY,
        title VARCHAR NOT NULL,
        sha256 VARCHAR NOT NULL,
        file_name VARCHAR NOT NULL,
        media_type VARCHAR NOT NULL,
        doc_kind VARCHAR NOT NULL,
        places VARCHAR NOT NULL,
        doc_date DATE,
        language VARCHAR,
        tags VARCHAR NOT NULL,
        body VARCHAR,
        pages INTEGER,
        visibility VARCHAR NOT NULL,
        added_by VARCHAR,
        added_at TIMESTAMP NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS document_terms (
        term VARCHAR NOT NULL,
        doc_id BIGINT NOT NULL,
        hits INTEGER NOT NULL
    )""",
    """CREATE INDEX IF NOT EXISTS document_terms_term ON document_terms (term)""",
    # ---- admin boundaries (passage.places.boundaries)
    """CREATE TABLE IF NOT EXISTS boundaries (
        code VARCHAR PRIMARY KEY,
        level INTEGER NOT NULL,
        country_code VARCHAR NOT NULL,
        name VARCHAR,
        geometry VARCHAR NOT NULL,
        source VARCHAR,
        imported_at TIMESTAMP NOT NULL
    )""",
    # ---- record ids a migration changed (passage.store.migrations.record_keys): the audit log keeps the old ones
    """CREATE TABLE IF NOT EXISTS record_id_changes (
        form_id VARCHAR NOT NULL,
        old_record_id VARCHAR NOT NULL,
        new_record_id VARCHAR NOT NULL,
        migration VARCHAR NOT NULL,
        changed_at TIMESTAMP NOT NULL
    )""",
    # ---- rows an import set aside with their errors (passage.ingest.quarantine)
    """CREATE SEQUENCE IF NOT EXISTS quarantine_ids START 1""",
    """CREATE TABLE IF NOT EXISTS quarantine (
        quarantine_id BIGINT PRIMARY KEY,
        import_id BIGINT NOT NULL,
        kind VARCHAR NOT NULL,
        form_id VARCHAR NOT NULL,
        options VARCHAR NOT NULL,
        file_name VARCHAR NOT NULL,
        file_sha256 VARCHAR,
        sheet VARCHAR,
        source_row BIGINT NOT NULL,
        country VARCHAR,
        place_code VARCHAR,
        row_values VARCHAR NOT NULL,
        repeats VARCHAR NOT NULL,
        findings VARCHAR NOT NULL,
        status VARCHAR NOT NULL,
        imported_by VARCHAR,
        created_at TIMESTAMP NOT NULL,
        changed_by VARCHAR,
        changed_at TIMESTAMP,
        record_id VARCHAR
    )""",
    # Bumped by every change readers may have cached (commits, edits, releases).
    """INSERT INTO passage_meta SELECT 'generation', '0' WHERE NOT EXISTS
        (SELECT 1 FROM passage_meta WHERE key = 'generation')""",
]


def create_tables(store: Store) -> None:
    """The core's system tables, then each pack's (`store_tables`), where missing."""
    from passage.plugins import collected

    for stmt in [*DDL, *collected("store_tables")]:  # packs' own tables after the core's
        store.execute(stmt)


def ensure_schema(store: Store) -> None:
    """Make a new store at the latest migration; open an existing one only if it is at the latest too.

    A store with pending migrations is refused before anything is written, for reading as well: the code reads
    tables and record ids in their latest shape, and every open and most reads write (the import log's
    recovery, sessions, the audit log). `passage migrate` opens it without this check and brings it up to date.
    """
    from passage.store.migrations.ledger import adopt, levels

    before = levels(store)
    before.check()
    create_tables(store)
    adopt(store, before)
    ensure_record_indexes(store)


# ---- record tables: at most one current version per record id
# PostgreSQL holds it with a partial unique index on every record table (made with the table, and here for
# stores made before it). DuckDB has no partial indexes: there one process writes the file (its file lock),
# its imports load one at a time (Store.load_lock) and check files and new keys again once they hold the
# lock, and a new version replaces the current one in the transaction that writes it (DuckDB refuses a
# second transaction updating the same row).


def current_version_index(store: Store, table: str) -> None:
    """PostgreSQL: refuse a second current version of a record (`rec_<form>`, `rec_<form>__<repeat>`)."""
    if store.dialect == "postgres":
        store.execute(f"CREATE UNIQUE INDEX IF NOT EXISTS {table}_current ON {table} (_record_id) WHERE _current")


def ensure_record_indexes(store: Store) -> None:
    """Give the record tables of a PostgreSQL store made before the index its unique index.

    A table that already holds a record with two current versions (two imports of one file that raced
    before imports were serialised) cannot take it: the store still opens, with a warning naming the table.
    """
    if store.dialect != "postgres":
        return
    tables = [r[0] for r in store.query(
        "SELECT t.table_name FROM information_schema.tables t JOIN information_schema.columns c "
        "ON c.table_schema = t.table_schema AND c.table_name = t.table_name AND c.column_name = '_current' "
        "WHERE t.table_schema = current_schema() AND t.table_type = 'BASE TABLE' AND left(t.table_name, 4) = 'rec_' "
        "AND NOT EXISTS (SELECT 1 FROM pg_indexes i WHERE i.schemaname = t.table_schema "
        "AND i.tablename = t.table_name AND i.indexname = left(t.table_name || '_current', 63)) "
        "ORDER BY t.table_name")]
    for table in tables:
        try:
            current_version_index(store, table)
        except Exception:
            doubled = store.scalar(f"SELECT count(*) FROM (SELECT _record_id FROM {table} WHERE _current "
                                   "GROUP BY _record_id HAVING count(*) > 1) AS d")
            if not doubled:
                if store.scalar("SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() "
                                "AND indexname = left(? || '_current', 63)", [table]):
                    continue  # another process opening the store made it meanwhile
                raise
            log.warning("%s: %d record(s) have more than one current version, and totals count them more than "
                        "once; the table gets its unique index (one current version per record) once they are "
                        "repaired", table, doubled)


def generation(store: Store) -> int:
    """A number that changes whenever data readers may have cached changes."""
    return int(store.scalar("SELECT value FROM passage_meta WHERE key = 'generation'") or 0)


def bump_generation(store: Store) -> None:
    store.execute("UPDATE passage_meta SET value = CAST(CAST(value AS BIGINT) + 1 AS VARCHAR) WHERE key = 'generation'")
