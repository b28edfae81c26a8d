"""The store as Passage made it before migrations were numbered: the system tables (`passage.store.schema.DDL`,
created when a store opens) and API tokens' expiry.

Tokens made before they expired get the default lifetime (`passage.auth.tokens.DEFAULT_DAYS`, 90 days) from
their creation, so a token older than that stops working at once.
"""

from __future__ import annotations

from passage.store.base import Store


def apply(store: Store, migration: object) -> dict:
    have = store.scalar("SELECT count(*) FROM information_schema.columns WHERE table_schema = current_schema() "
                        "AND table_name = 'api_tokens' AND column_name = 'expires_at'")
    if have:
        return {"tokens_given_expiry": 0}
    store.execute("ALTER TABLE api_tokens ADD COLUMN expires_at TIMESTAMP")
    n = store.scalar("SELECT count(*) FROM api_tokens")
    store.execute("UPDATE api_tokens SET expires_at = created_at + INTERVAL '90 days' WHERE expires_at IS NULL")
    return {"tokens_given_expiry": n}
