"""The audit table refuses TRUNCATE as well as UPDATE and DELETE (PostgreSQL).

Row triggers do not fire on TRUNCATE; a statement trigger does. The same function raises.
"""
from django.db import migrations

TRUNCATE_GUARD = """
CREATE TRIGGER workflow_auditevent_no_truncate
    BEFORE TRUNCATE ON workflow_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION workflow_audit_append_only();
"""
TRUNCATE_GUARD_REVERSE = "DROP TRIGGER IF EXISTS workflow_auditevent_no_truncate ON workflow_auditevent;"


def guard(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TRUNCATE_GUARD, params=None)


def unguard(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TRUNCATE_GUARD_REVERSE, params=None)


class Migration(migrations.Migration):
    dependencies = [("workflow", "0009_lean_indexes")]

    operations = [migrations.RunPython(guard, unguard)]
