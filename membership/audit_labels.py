"""Words for the audit log page: what each recorded action, target and detail means to a local admin.

The audit log stores codes and ids only (no personal data in an append-only table), so the page
turns them into sentences at display time: action codes to labels, target types to words, and ids
in the details to today's pseudonyms, labels and names. Every `audit_record(...)` action written
in the code has a label here (tests/membership/test_audit_page.py walks the source to check); a
code without one still shows, as "Other action (code)", so an old or new record never breaks
the page.

Ids are resolved for a whole page at once (`describe_events`), in a fixed number of queries
whatever the page's length: one for accounts and their memberships, one for status changes, one
for bargaining units, one for grievance steps.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from membership.models import BargainingUnit, Member, MemberStatusChange, User
from membership.roles import Role
from union.models import AuditEvent

ACTION_LABELS: dict[str, Any] = {
    # Cards, invitations, joining
    "card.sign": _("Union card signed"),
    "card.revoke": _("Union card revoked"),
    "invitation.create": _("Invitation created"),
    "member.join": _("Joined (application received)"),
    "member.email_confirmed": _("Email address confirmed"),
    "member.pseudonym_renamed": _("Pseudonym changed by the system"),
    "join.duplicate": _("Sign-up with an address already on the roll"),
    "join.phone_clash": _("Sign-up with a phone number already on the roll"),
    "join.ceiling": _("Sign-up limit reached, organizers alerted"),
    "join.cleanup": _("Unconfirmed sign-ups removed"),
    # Members
    "member.create": _("Member added"),
    "member.status": _("Membership status changed"),
    "member.dues": _("Dues status changed"),
    "member.unit": _("Bargaining unit changed"),
    "member.notes": _("Organizer notes edited"),
    "member.view": _("Member record opened"),
    "member.self_update": _("Member updated their details"),
    "member.phone_clash": _("Phone number already used by another member"),
    "member.email_change_requested": _("Email change requested"),
    "member.email_changed": _("Email address changed"),
    "member.export": _("Member downloaded their data"),
    "member.erase": _("Member erased"),
    # Roll
    "roll.import": _("Roll imported"),
    "roll.export": _("Roll exported"),
    "roll.export_alert": _("Large roll export, officers alerted"),
    # Roles and accounts
    "role.grant": _("Role given"),
    "role.revoke": _("Role removed"),
    "user.sessions_ended": _("Signed out everywhere"),
    "user.deactivate": _("Account deactivated"),
    "user.password_change": _("Password changed"),
    "user.two_factor_enrolled": _("Two-step verification set up"),
    # Support assessments
    "support.levels_seed": _("Support levels created"),
    "support.level_delete": _("Support level deleted"),
    "support.assess": _("Support assessed"),
    # Grievances
    "grievance.draft": _("Case drafted"),
    "grievance.draft_edit": _("Case draft edited"),
    "grievance.submit": _("Case filed"),
    "grievance.advance": _("Case moved to the next step"),
    "grievance.close": _("Case closed"),
    "grievance.reopen": _("Case reopened"),
    "grievance.assign": _("Case assigned to a steward"),
    "grievance.event": _("Entry added to a case"),
    "grievance.correct": _("Case entry corrected"),
    "grievance.adverse_action": _("Adverse action recorded"),
    "grievance.letter_request": _("Letter requested"),
    "grievance.letter": _("Letter issued"),
    "grievance.letter_refused": _("Letter request refused"),
    "grievance.letter_download": _("Letter downloaded"),
    "grievance.register_view": _("Case register opened"),
    "grievance.export": _("Cases exported"),
    "evidence.upload": _("Evidence uploaded"),
    "evidence.download": _("Evidence downloaded"),
    # Messaging
    "messaging.device_list": _("Device list updated"),
    "messaging.room_create": _("Room created"),
    "messaging.commit": _("Room membership changed"),
    "messaging.committee_seat": _("Committee seat changed"),
    "messaging.room_meta": _("Room name changed"),
    "messaging.backup_params": _("Message backup set up"),
    "messaging.retention": _("Old messages removed"),
    # Bargaining
    "bargaining.campaign_create": _("Bargaining campaign created"),
    "bargaining.campaign_update": _("Bargaining campaign changed"),
    "bargaining.demand_create": _("Demand added"),
    "bargaining.demand_update": _("Demand changed"),
    "bargaining.document_generate": _("Demands document generated"),
    "bargaining.ballot_open": _("Ratification ballot opened"),
    "bargaining.ballot_close": _("Ratification ballot closed and counted"),
    "bargaining.table_open": _("Demands recorded as tabled"),
    "bargaining.table_entry_add": _("Position recorded at the bargaining table"),
    "bargaining.demand_status_set": _("Status of a demand at the table changed"),
    "bargaining.agreement_generate": _("Tentative agreement document generated"),
    "bargaining.comment_add": _("Comment posted on a demand"),
    "bargaining.comment_edit": _("Comment on a demand edited"),
    "bargaining.comment_delete": _("Comment on a demand deleted by its author"),
    "bargaining.comment_hide": _("Comment on a demand hidden by a representative"),
    "bargaining.comment_restore": _("Hidden comment shown again"),
    "bargaining.endorsement_add": _("Demand endorsed"),
    "bargaining.endorsement_withdraw": _("Endorsement of a demand withdrawn"),
    "bargaining.survey_open": _("Priorities survey opened"),
    "bargaining.survey_close": _("Priorities survey closed and counted"),
    # Operations
    "data_keys.rotate": _("Encryption keys rotated"),
}

TARGET_LABELS: dict[str, Any] = {
    "membership.member": _("member"),
    "membership.user": _("account"),
    "membership.unioncard": _("union card"),
    "membership.invitation": _("invitation"),
    "membership.local": _("local"),
    "membership.union": _("union"),
    "grievances.grievance": _("case"),
    "grievances.evidence": _("evidence"),
    "grievances.letter": _("letter"),
    "messaging.devicelist": _("device list"),
    "messaging.room": _("room"),
    "messaging.commit": _("room change"),
    "messaging.backupparams": _("message backup"),
    "bargaining.campaign": _("bargaining campaign"),
    "bargaining.demand": _("demand"),
    "bargaining.ballot": _("ballot"),
    "bargaining.comment": _("comment"),
    "bargaining.survey": _("priorities survey"),
}

# Detail keys shown with a label of their own; any other key is humanised ("previous_unit" ->
# "Previous unit"). `local_id` is left out: the page is already limited to the viewer's locals.
KEY_LABELS: dict[str, Any] = {
    "grievants": _("grievants"),
    "fields": _("fields"),
    "changed": _("changed"),
    "number": _("case number"),
    "step": _("step"),
    "outcome": _("outcome"),
    "previous": _("before"),
    "steward_id": _("steward"),
    "previous_id": _("previous steward"),
    "member_id": _("member"),
    "kind": _("kind"),
    "shared": _("shared with the grievants"),
    "version": _("version"),
    "sha256": _("fingerprint"),
    "rows": _("rows"),
    "role": _("role"),
    "cause": _("cause"),
    "invited": _("invited"),
    "accounts": _("accounts"),
    "applicants": _("applicants"),
    "per": _("per"),
    "limit": _("limit"),
    "alerted": _("people alerted"),
    "unit": _("unit"),
    "previous_unit": _("previous unit"),
    "length": _("length"),
    "imported": _("imported"),
    "skipped": _("skipped"),
    "large": _("large"),
    "value": _("level"),
    "values": _("levels"),
    "devices": _("devices"),
    "revoked": _("revoked"),
    "room": _("room"),
    "epoch": _("epoch"),
    "members": _("members"),
    "seated": _("seated"),
    "messages": _("messages"),
    "wraps": _("keys"),
    "primary": _("primary key"),
    "files": _("files"),
    "missing_files": _("missing files"),
    "anonymous": _("anonymous"),
    "method": _("method"),
    "dots": _("dots"),
    "demands": _("demands"),
    "responses": _("answers"),
    "eligible": _("eligible"),
}
HIDDEN_KEYS = frozenset({"local_id", "change", "from", "to"})
CAUSE_LABELS: dict[str, Any] = {
    "deactivated": _("account deactivated"),
    "user request": _("at the person's request"),
    "too_close_to_a_member": _("too close to a member's pseudonym"),
}


def action_label(code: str) -> str:
    label = ACTION_LABELS.get(code)
    if label is None:
        return gettext("Other action (%(code)s)") % {"code": code}
    return str(label)


def target_label(target_type: str) -> str:
    if not target_type:
        return ""
    label = TARGET_LABELS.get(target_type)
    if label is not None:
        return str(label)
    try:  # a model added later: its own (translated) verbose name, never the raw label
        return str(apps.get_model(target_type)._meta.verbose_name)
    except (LookupError, ValueError):
        return gettext("record")


def _humanise(key: str) -> str:
    label = KEY_LABELS.get(key)
    return str(label) if label is not None else key.replace("_", " ").strip()


@dataclass
class EventRow:
    """One audit record as the page shows it."""

    event: AuditEvent
    actor: str
    action: str
    target: str
    details: list[str] = field(default_factory=list)


@dataclass
class _Lookups:
    people: dict[int, str]
    changes: dict[int, tuple[str, str]]
    units: dict[int, str]
    steps: dict[tuple[int | None, str], str]


def _choice(choices: Any, value: Any) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return str(value)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if value is None:
        return gettext("none")
    if isinstance(value, list):
        return ", ".join(_value(v).replace("_", " ") for v in value)
    return str(value)


def _person(lookups: _Lookups, user_id: Any) -> str:
    if user_id is None:
        return gettext("none")
    return lookups.people.get(int(user_id), gettext("erased member"))


def _describe(event: AuditEvent, lookups: _Lookups) -> list[str]:
    # Looked up by name, not imported: membership depends on no feature app (DESIGN.md); these
    # apps' choice labels are only read here, to name their codes on the page.
    Grievance: Any = apps.get_model("grievances", "Grievance")
    Event: Any = apps.get_model("grievances", "Event")
    AdverseAction: Any = apps.get_model("grievances", "AdverseAction")
    Room: Any = apps.get_model("messaging", "Room")

    details = event.details if isinstance(event.details, dict) else {}
    out: list[str] = []
    action = event.action
    if "from" in details or "to" in details or "change" in details:
        before, after = details.get("from"), details.get("to")
        if (before is None or after is None) and isinstance(details.get("change"), int):
            before, after = lookups.changes.get(details["change"], (before, after))
        choices = Member.Dues if action == "member.dues" else Member.Status
        out.append(gettext("From %(before)s to %(after)s") % {
            "before": _choice(choices, before) if before else gettext("none"),
            "after": _choice(choices, after) if after else gettext("none")})
    for key, value in details.items():
        if key in HIDDEN_KEYS:
            continue
        if key in ("steward_id", "previous_id") or (key == "member_id" and not action.startswith("messaging.")):
            shown = _person(lookups, value)
        elif key == "member_id":
            shown = lookups.people.get(-int(value), gettext("erased member")) if value is not None else gettext("none")
        elif key == "role" or (key == "previous" and action.startswith("role.")):
            shown = _choice(Role, value) if value else gettext("none")
        elif key == "outcome" or (key == "previous" and action == "grievance.reopen"):
            shown = _choice(Grievance.Outcome, value) if value else gettext("none")
        elif key == "kind" and action == "grievance.event":
            shown = _choice(Event.Kind, value)
        elif key == "kind" and action == "grievance.adverse_action":
            shown = _choice(AdverseAction.Kind, value)
        elif key == "kind" and action.startswith("messaging."):
            shown = _choice(Room.Kind, value)
        elif key in ("unit", "previous_unit"):
            shown = lookups.units.get(int(value), gettext("removed unit")) if value is not None else gettext("none")
        elif key == "step":
            shown = lookups.steps.get((event.local_id, str(value)), str(value).replace("-", " ").replace("_", " "))
        elif key == "cause":
            label = CAUSE_LABELS.get(str(value))
            shown = str(label) if label is not None else str(value).replace("_", " ")
        elif key == "method" and action.startswith("bargaining.survey"):
            shown = _choice(apps.get_model("bargaining", "Survey").Method, value)
        elif key == "sha256":
            shown = str(value)[:12]
        else:
            shown = _value(value)
        out.append(f"{capfirst(_humanise(key))}: {shown}")
    return out


def _load(events: Sequence[AuditEvent]) -> _Lookups:
    Step: Any = apps.get_model("grievances", "Step")

    user_ids: set[int] = {e.actor_id for e in events if e.actor_id}
    member_ids: set[int] = set()
    change_ids: set[int] = set()
    unit_ids: set[int] = set()
    step_keys: set[str] = set()
    local_ids: set[int] = set()
    for e in events:
        d = e.details if isinstance(e.details, dict) else {}
        for key in ("steward_id", "previous_id"):
            if isinstance(d.get(key), int):
                user_ids.add(d[key])
        if isinstance(d.get("member_id"), int):
            (member_ids if e.action.startswith("messaging.") else user_ids).add(d["member_id"])
        if isinstance(d.get("change"), int) and ("from" not in d or "to" not in d):
            change_ids.add(d["change"])
        for key in ("unit", "previous_unit"):
            if isinstance(d.get(key), int):
                unit_ids.add(d[key])
        if isinstance(d.get("step"), str) and e.local_id:
            step_keys.add(d["step"])
            local_ids.add(e.local_id)
    people: dict[int, str] = {}
    erased = gettext("erased member")
    staff = gettext("platform staff")
    # One query for accounts and their memberships, one for memberships named by member id.
    if user_ids:
        for user in User.objects.filter(pk__in=user_ids).select_related("member").only(
                "pk", "is_staff", "member__pseudonym", "member__erased_at"):
            member = getattr(user, "member", None)
            if member is not None:
                people[user.pk] = erased if member.erased_at else member.pseudonym
            else:
                people[user.pk] = staff if user.is_staff else erased
    if member_ids:
        for pk, pseudonym, erased_at in Member.objects.filter(pk__in=member_ids).values_list(
                "pk", "pseudonym", "erased_at"):
            people[-pk] = erased if erased_at else pseudonym  # negative: member ids, not account ids
    changes = ({pk: (a, b) for pk, a, b in MemberStatusChange.objects.filter(pk__in=change_ids)
                .values_list("pk", "from_status", "to_status")} if change_ids else {})
    units = ({u.pk: str(u) for u in BargainingUnit.objects.filter(pk__in=unit_ids).select_related(
        "employer", "client")} if unit_ids else {})
    steps: dict[tuple[int | None, str], str] = {}
    if step_keys:
        for local_pk, slug, name in Step.objects.filter(
                slug__in=step_keys, union__locals__pk__in=local_ids).values_list("union__locals__pk", "slug", "name"):
            steps[(local_pk, slug)] = name
    return _Lookups(people=people, changes=changes, units=units, steps=steps)


def describe_events(events: Iterable[AuditEvent]) -> list[EventRow]:
    """The page's rows, every id resolved in a fixed number of queries for the whole page."""
    events = list(events)
    lookups = _load(events)
    rows = []
    for event in events:
        if event.actor_id:
            actor = lookups.people.get(event.actor_id, gettext("erased member"))
        else:
            actor = gettext("system")
        rows.append(EventRow(event=event, actor=actor, action=action_label(event.action),
                             target=target_label(event.target_type), details=_describe(event, lookups)))
    return rows


__all__ = ["ACTION_LABELS", "TARGET_LABELS", "action_label", "describe_events", "target_label"]
