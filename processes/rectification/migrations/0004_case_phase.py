from django.db import migrations

# The phase of each rectification state that is not "open" (see declaration.py).
PHASES = {"draft": "draft", "closed": "done", "cancelled": "cancelled"}


def fill_phase(apps, schema_editor):
    Case = apps.get_model("workflow", "Case")
    for status, phase in PHASES.items():
        Case.objects.filter(case_type="rectification", status=status).update(phase=phase)


def clear_phase(apps, schema_editor):
    apps.get_model("workflow", "Case").objects.filter(case_type="rectification").update(phase="open")


class Migration(migrations.Migration):

    dependencies = [
        ("rectification", "0003_labels"),
        ("workflow", "0013_case_phase"),
    ]

    operations = [migrations.RunPython(fill_phase, clear_phase)]
