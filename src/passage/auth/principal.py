"""Who is acting, and which places they answer for.

A principal is a value: the web layer and the library pass it around, and
`passage.access.allowed` asks it questions (`role`, `covers`) instead of re-reading users and
scopes each time. `OPERATOR` is whoever runs the CLI without `--user`: the store's operator,
who may do what an admin may, recorded as `operator` (a name no user can take).
Scopes are place codes: an ISO3 country (`NGA`) or an OCHA P-code (`NG002`), and
P-codes nest by prefix (`NG002` contains `NG002001`).
"""

from __future__ import annotations

from dataclasses import dataclass

ROLES = ("admin", "editor", "viewer")
PUBLIC_ROLE = "public"


def is_country_code(code: str) -> bool:
    """ISO 3166 alpha-3 (`NGA`), as opposed to a P-code (`NG002`, `TCD07`)."""
    return len(code) == 3 and code.isalpha()


@dataclass(frozen=True)
class Principal:
    user_name: str | None  # None = the public
    role: str  # "admin" | "editor" | "viewer" | "public"
    scopes: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if self.role not in ROLES + (PUBLIC_ROLE,):
            raise ValueError(f"unknown role {self.role!r}")
        if not isinstance(self.scopes, frozenset):
            object.__setattr__(self, "scopes", frozenset(self.scopes))

    @property
    def is_public(self) -> bool:
        return self.role == PUBLIC_ROLE

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def covers(self, country_code: str, place_code: str | None = None) -> bool:
        """Whether this principal answers for a country, or a place within it.

        A country scope covers the whole country; a P-code scope covers that place
        and every place whose P-code starts with it, but not the country as a whole.
        """
        if self.is_admin:
            return True
        if self.is_public:
            return False
        if country_code in self.scopes:
            return True
        if place_code:
            return any(place_code.startswith(s) for s in self.scopes if not is_country_code(s))
        return False

    def countries(self) -> frozenset[str]:
        """The whole countries in scope (for `country_code IN (...)` filters)."""
        return frozenset(s for s in self.scopes if is_country_code(s))

    def place_prefixes(self) -> frozenset[str]:
        """The P-code scopes (for `place_code LIKE prefix || '%'` filters)."""
        return frozenset(s for s in self.scopes if not is_country_code(s))


PUBLIC = Principal(None, PUBLIC_ROLE)
OPERATOR_NAME = "operator"
OPERATOR = Principal(OPERATOR_NAME, "admin")
