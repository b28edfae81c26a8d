"""Password hashing with argon2id; the password itself is never stored or logged."""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from passage.errors import UsageError

MIN_LENGTH = 10
MAX_LENGTH = 1024  # argon2 copes with more; a bound keeps a typo'd file paste out

_hasher = PasswordHasher()


def check_strength(password: str) -> None:
    if not isinstance(password, str) or len(password) < MIN_LENGTH:
        raise UsageError(f"a password needs at least {MIN_LENGTH} characters", code="auth.weak_password")
    if len(password) > MAX_LENGTH:
        raise UsageError(f"a password may have at most {MAX_LENGTH} characters", code="auth.weak_password")
    if not password.strip():
        raise UsageError("a password cannot be only spaces", code="auth.weak_password")


def hash_password(password: str) -> str:
    check_strength(password)
    return _hasher.hash(password)


def rehash_password(password: str) -> str:
    """A fresh hash of a password that was just verified (no strength rules: it predates them)."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash("not a password anyone has")


def burn_verify_time(password: str) -> None:
    """Spend as long as a real check, so an unknown user name takes as long to refuse as a known one."""
    verify_password(_dummy_hash(), password)
