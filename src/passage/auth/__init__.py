"""Who is who: users, roles and place scopes, sessions, API tokens, rate limiting, the audit log.

    from passage.auth import authenticate, create_session, session_principal
    principal = authenticate(store, "amina", password, ip="10.0.0.7")
    cookie, csrf = create_session(store, principal.user_name, ip="10.0.0.7")
    principal, csrf = session_principal(store, cookie)
    allowed(principal, "edit-records", Place("NGA", "NG002001"))   # passage.access
"""

from passage.auth.audit import audit, audit_entries
from passage.auth.principal import OPERATOR, PUBLIC, ROLES, Principal
from passage.auth.sessions import (
                                   SESSION_HOURS,
                                   create_session,
                                   csrf_matches,
                                   end_session,
                                   end_user_sessions,
                                   session_principal,
)
from passage.auth.tokens import (
                                   all_tokens,
                                   create_token,
                                   default_token_days,
                                   list_tokens,
                                   revoke_token,
                                   set_default_token_days,
                                   token_principal,
)
from passage.auth.users import (
                                   add_user,
                                   authenticate,
                                   get_principal,
                                   list_users,
                                   set_password,
                                   unlock_user,
                                   update_user,
                                   user_scopes,
)

__all__ = [
                                   "OPERATOR",
                                   "PUBLIC",
                                   "ROLES",
                                   "SESSION_HOURS",
                                   "Principal",
                                   "add_user",
                                   "all_tokens",
                                   "audit",
                                   "audit_entries",
                                   "authenticate",
                                   "create_session",
                                   "create_token",
                                   "csrf_matches",
                                   "default_token_days",
                                   "end_session",
                                   "end_user_sessions",
                                   "get_principal",
                                   "list_tokens",
                                   "list_users",
                                   "revoke_token",
                                   "session_principal",
                                   "set_default_token_days",
                                   "set_password",
                                   "token_principal",
                                   "unlock_user",
                                   "update_user",
                                   "user_scopes",
]
