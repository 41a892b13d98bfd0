"""Assignment events named the steward by login handle; name them by account id instead.

A handle in an append-only timeline outlives the steward's erasure (which renames the account)
and can later be taken by someone else. The id is found from the audit log first: each
assignment wrote one `grievance.assign` record with `steward_id` in the same transaction as its
event, so the n-th assignment event of a case matches the n-th record. Only when the counts
disagree is the handle looked up (it may then be gone: the id is left empty and the page says
"a union officer"). Either way the handle is removed.
"""

from collections import defaultdict

from django.db import migrations


def handles_to_ids(apps, schema_editor):
    event_model = apps.get_model("grievances", "Event")
    audit_model = apps.get_model("union", "AuditEvent")
    user_model = apps.get_model("membership", "User")
    events = list(event_model.objects.filter(kind="assignment").select_related("grievance").order_by("created_at", "id"))
    if not events:
        return
    recorded: dict[str, list] = defaultdict(list)
    for target_id, details in (audit_model.objects.filter(action="grievance.assign")
                               .order_by("seq").values_list("target_id", "details")):
        recorded[target_id].append((details or {}).get("steward_id"))
    by_case: dict[int, list] = defaultdict(list)
    for event in events:
        by_case[event.grievance_id].append(event)
    for case_events in by_case.values():
        ids = recorded.get(str(case_events[0].grievance.code), [])
        for n, event in enumerate(case_events):
            data = dict(event.data or {})
            if "steward" not in data:
                continue
            handle = data.pop("steward")
            if "steward_id" not in data:
                if len(ids) == len(case_events):
                    data["steward_id"] = ids[n]
                else:
                    data["steward_id"] = user_model.objects.filter(handle=handle).values_list("pk", flat=True).first()
            event.data = data
            event.save(update_fields=["data"])


class Migration(migrations.Migration):

    dependencies = [
        ('grievances', '0001_initial'),
        ('union', '0002_seal_audit_chain_head'),
    ]

    operations = [
        migrations.RunPython(handles_to_ids, migrations.RunPython.noop),
    ]
