"""Database-level guards and seed data.

- On PostgreSQL, a trigger refuses UPDATE and DELETE on audit events.
- The system audit chain exists from the start.
- The working-day calendar is seeded from chinese-calendar (2004-2026).
- An index serves the inbox query on viewflow's task table.
"""
from django.db import migrations

AUDIT_GUARD = """
CREATE OR REPLACE FUNCTION workflow_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER workflow_auditevent_append_only
    BEFORE UPDATE OR DELETE ON workflow_auditevent
    FOR EACH ROW EXECUTE FUNCTION workflow_audit_append_only();
"""
AUDIT_GUARD_REVERSE = """
DROP TRIGGER IF EXISTS workflow_auditevent_append_only ON workflow_auditevent;
DROP FUNCTION IF EXISTS workflow_audit_append_only();
"""


def guard_audit(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(AUDIT_GUARD, params=None)


def unguard_audit(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(AUDIT_GUARD_REVERSE, params=None)


def seed(apps, schema_editor):
    import datetime

    import chinese_calendar
    from chinese_calendar.constants import Holiday

    AuditChain = apps.get_model("workflow", "AuditChain")
    CalendarYear = apps.get_model("workflow", "CalendarYear")
    CalendarDay = apps.get_model("workflow", "CalendarDay")
    AuditChain.objects.get_or_create(key="system")
    labels = {h.value: h.chinese for h in Holiday}
    days = []
    for year in range(2004, 2027):
        CalendarYear.objects.get_or_create(year=year, defaults={"source": "chinese-calendar 1.11"})
        day = datetime.date(year, 1, 1)
        while day.year == year:
            workday = chinese_calendar.is_workday(day)
            if workday != (day.weekday() < 5):
                _, name = chinese_calendar.get_holiday_detail(day)
                days.append(CalendarDay(date=day, is_workday=workday, name=labels.get(name, name or "")))
            day += datetime.timedelta(days=1)
    CalendarDay.objects.bulk_create(days, ignore_conflicts=True)


class Migration(migrations.Migration):
    dependencies = [
        ("workflow", "0002_cases"),
        ("viewflow", "0015_task_scheduled"),
    ]

    operations = [
        migrations.RunPython(guard_audit, unguard_audit),
        migrations.RunPython(seed, migrations.RunPython.noop),
        migrations.RunSQL(
            "CREATE INDEX workflow_task_inbox_idx ON viewflow_task (owner_permission, owner_permission_obj_pk, status)",
            "DROP INDEX workflow_task_inbox_idx",
        ),
        migrations.RunSQL(
            "CREATE INDEX workflow_task_done_idx ON viewflow_task (owner_id, status, finished)",
            "DROP INDEX workflow_task_done_idx",
        ),
    ]
