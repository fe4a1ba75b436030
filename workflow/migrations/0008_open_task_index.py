"""An index of each process's open tasks.

A transition closes the tasks its case no longer awaits by process; without this index
the planner may walk the inbox index instead, through every open task of a busy unit.
It is partial (open tasks only), so it stays small. The transition's statement names the
open states as literals so that its prepared, generic plan can use it too.
"""
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("workflow", "0007_red_list_counts"),
        ("viewflow", "0015_task_scheduled"),
    ]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX workflow_task_open_idx ON viewflow_task (process_id) WHERE status IN ('NEW', 'ASSIGNED')",
            "DROP INDEX workflow_task_open_idx",
        ),
    ]
