"""The rule sets hazards ship with (rule_data.py): the confirmed articles of the major-hazard
criteria and four checklists. An administrator edits them as newer versions."""
from datetime import date

from django.db import migrations


def load(apps, schema_editor):
    from processes.hazard.rule_data import SHIPPED

    RuleSet = apps.get_model("workflow", "RuleSet")
    for entry in SHIPPED:
        RuleSet.objects.get_or_create(
            kind=entry["kind"], name=entry["name"], version=entry["version"],
            defaults={"title": entry["title"], "effective_from": date.fromisoformat(entry["effective_from"]),
                      "body": entry["body"], "note": entry["note"]})


class Migration(migrations.Migration):
    dependencies = [("hazard", "0001_initial"), ("workflow", "0018_rule_sets_grid_role")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
