"""System tables, in SQL that DuckDB and PostgreSQL both accept.

Record tables are not here: each form gets its own, made from its XLSForm
(`passage.forms.tables`).
"""

from __future__ import annotations

from passage.store.base import Store

SCHEMA_VERSION = 1

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
]


def ensure_schema(store: Store) -> None:
    for stmt in DDL:
        store.execute(stmt)
    if store.scalar("SELECT value FROM passage_meta WHERE key = 'schema_version'") is None:
        store.execute("INSERT INTO passage_meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])
