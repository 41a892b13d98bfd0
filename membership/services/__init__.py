"""Membership's writes with side effects, by area; callers check access first (permissions.py).

Every function is keyword-only, atomic where it writes, and writes its audit record. The modules:
`accounts` (roles, sessions, second factor), `joining` (invitations, sign-up, confirmation, limits),
`cards`, `members` (status, dues, workplace, notes) and `roll` (import, export). Importing from
`membership.services` keeps working for every public name.
"""

from membership.services.accounts import (
    role_grant,
    role_revoke,
    two_factor_confirm,
    two_factor_start,
    user_deactivate,
    user_end_other_sessions,
    user_end_sessions,
    user_password_changed,
)
from membership.services.cards import (
    card_revoke,
    card_sign,
    current_card_text,
)
from membership.services.errors import (
    ERR_DUPLICATE,
    DuplicateSignup,
    MembershipError,
)
from membership.services.joining import (
    ERR_HANDLE_RACE,
    INVITATION_DAYS,
    JOIN_CONFIRM_MAX_AGE,
    JOIN_CONFIRM_SALT,
    HandleTaken,
    invitation_create,
    invitation_find,
    join_ceiling_alert,
    join_cleanup,
    join_confirm_token,
    join_submit,
    join_unconfirmed_member,
    member_confirm_email,
    member_join,
    pseudonym_clashes,
)
from membership.services.members import (
    ERR_REASON,
    ERR_TRANSITION,
    ERR_UNIT_LOCAL,
    member_change_unit,
    member_record_view,
    member_reject,
    member_set_dues,
    member_set_notes,
    member_set_status,
    member_verify,
)
from membership.services.roll import (
    ERR_IMPORT_CLASH,
    ERR_IMPORT_REJECTED,
    roll_export_record,
    roll_import,
)

__all__ = [
    "DuplicateSignup",
    "ERR_DUPLICATE",
    "ERR_HANDLE_RACE",
    "ERR_IMPORT_CLASH",
    "ERR_IMPORT_REJECTED",
    "ERR_REASON",
    "ERR_TRANSITION",
    "ERR_UNIT_LOCAL",
    "HandleTaken",
    "INVITATION_DAYS",
    "JOIN_CONFIRM_MAX_AGE",
    "JOIN_CONFIRM_SALT",
    "MembershipError",
    "card_revoke",
    "card_sign",
    "current_card_text",
    "invitation_create",
    "invitation_find",
    "join_ceiling_alert",
    "join_cleanup",
    "join_confirm_token",
    "join_submit",
    "join_unconfirmed_member",
    "member_change_unit",
    "member_confirm_email",
    "member_join",
    "member_record_view",
    "member_reject",
    "member_set_dues",
    "member_set_notes",
    "member_set_status",
    "member_verify",
    "pseudonym_clashes",
    "role_grant",
    "role_revoke",
    "roll_export_record",
    "roll_import",
    "two_factor_confirm",
    "two_factor_start",
    "user_deactivate",
    "user_end_other_sessions",
    "user_end_sessions",
    "user_password_changed",
]
