"""Move the reasons already written into the audit log onto the objects they explain.

Before this release, `member.status` and `user.deactivate` records carried the reason typed by an
organizer or operator in their details, in clear, in a log that is never edited. This migration:

1. checks the chain link by link and refuses to go on if it is already broken (re-sealing a
   tampered chain would launder the tampering: run `manage.py audit_verify` and investigate);
2. moves each `member.status` reason into a new encrypted MemberStatusChange row (the record
   then names it as `change`), each `user.deactivate` reason onto the account
   (`User.deactivation_reason`), and renames the fixed `reason` code of `user.sessions_ended`
   to `cause`;
3. recomputes the hashes from the first changed record on, re-seals the head, and appends one
   `audit.reasons_moved` record saying how many records were rewritten from which number on, so
   the rewrite itself is on the record.

It runs before the first checkpoint can exist (checkpoints are new in the same release), so no
checkpoint vouches for the old hashes.
"""

import hashlib
import hmac
import json

from django.db import migrations
from django.utils import timezone

GENESIS = "0" * 64


def _fields_of(event):
    return {
        "seq": event.seq, "created_at": event.created_at.isoformat(), "actor_id": event.actor_id,
        "actor_label": event.actor_label, "action": event.action, "target_type": event.target_type,
        "target_id": event.target_id, "local_id": event.local_id, "details": event.details,
    }


def _link(key, prev_hash, event):
    payload = json.dumps(_fields_of(event), sort_keys=True, separators=(",", ":"), default=str)
    return hmac.new(key, (prev_hash + payload).encode(), hashlib.sha256).hexdigest()


def move_reasons(apps, schema_editor):
    from union import crypto

    audit_model = apps.get_model("union", "AuditEvent")
    head_model = apps.get_model("union", "AuditChainHead")
    member_model = apps.get_model("membership", "Member")
    user_model = apps.get_model("membership", "User")
    change_model = apps.get_model("membership", "MemberStatusChange")
    affected = audit_model.objects.filter(
        action__in=["member.status", "user.deactivate", "user.sessions_ended"], details__has_key="reason")
    first = affected.order_by("seq").values_list("seq", flat=True).first()
    if first is None:
        return
    chain_key = crypto.derived_key("audit-chain")
    events = list(audit_model.objects.order_by("seq"))
    prev = GENESIS
    for expected, event in enumerate(events, start=1):
        if event.seq != expected or event.prev_hash != prev or _link(chain_key, prev, event) != event.hash:
            raise RuntimeError(
                f"The audit chain is broken at record #{expected}; this migration will not re-seal it. "
                "Run `manage.py audit_verify`, investigate, then migrate again.")
        prev = event.hash

    moved = 0
    prev = GENESIS
    for event in events:
        if event.seq >= first:
            details = dict(event.details or {})
            if "reason" in details:
                reason = details.pop("reason")
                if event.action == "member.status":
                    member = member_model.objects.filter(code=event.target_id).first() if event.target_id else None
                    change = None
                    if member is not None:
                        change = change_model.objects.create(
                            member=member, from_status=details.get("from", ""), to_status=details.get("to", ""),
                            reason=str(reason or "") or None, changed_at=event.created_at,
                            changed_by=user_model.objects.filter(pk=event.actor_id).first() if event.actor_id else None)
                    details["change"] = change.pk if change is not None else None
                elif event.action == "user.deactivate":
                    user = user_model.objects.filter(code=event.target_id).first() if event.target_id else None
                    if user is not None:
                        user.deactivation_reason = str(reason or "") or None
                        user.save(update_fields=["deactivation_reason"])
                else:
                    details["cause"] = reason
                event.details = details
                moved += 1
            event.prev_hash = prev
            event.hash = _link(chain_key, prev, event)
            event.save(update_fields=["details", "prev_hash", "hash"])
        prev = event.hash

    note = audit_model(
        seq=events[-1].seq + 1, created_at=timezone.now(), actor_id=None, actor_label="system",
        action="audit.reasons_moved", target_type="", target_id="", local_id=None,
        details={"rows": moved, "rehashed_from": first}, prev_hash=prev)
    note.hash = _link(chain_key, prev, note)
    note.save()
    head = head_model.objects.get(pk=1)
    head.last_seq, head.last_hash = note.seq, note.hash
    head_key = crypto.derived_key("audit-head")
    head.seal = hmac.new(head_key, f"{note.seq}:{note.hash}".encode(), hashlib.sha256).hexdigest()
    head.save(update_fields=["last_seq", "last_hash", "seal"])


class Migration(migrations.Migration):

    dependencies = [
        ('membership', '0004_status_change_reasons_encrypted'),
        ('union', '0002_seal_audit_chain_head'),
    ]

    operations = [
        migrations.RunPython(move_reasons, migrations.RunPython.noop),
    ]
