"""Seal the audit chain head with a key outside the database (see union/audit.py).

The existing head is sealed as it stands: this migration trusts the chain as it is at upgrade
time, so run `manage.py audit_verify` before upgrading. The head row is created if missing, so
that from now on a missing head means it was deleted.
"""

import hashlib
import hmac

from django.db import migrations, models

GENESIS = "0" * 64


def seal_head(apps, schema_editor):
    from union import crypto

    head_model = apps.get_model("union", "AuditChainHead")
    head, _ = head_model.objects.get_or_create(pk=1, defaults={"last_seq": 0, "last_hash": GENESIS})
    key = crypto.derived_key("audit-head")
    head.seal = hmac.new(key, f"{head.last_seq}:{head.last_hash}".encode(), hashlib.sha256).hexdigest()
    head.save(update_fields=["seal"])


class Migration(migrations.Migration):

    dependencies = [
        ('union', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='auditchainhead',
            name='seal',
            field=models.CharField(blank=True, default='', max_length=64),
        ),
        migrations.RunPython(seal_head, migrations.RunPython.noop),
    ]
