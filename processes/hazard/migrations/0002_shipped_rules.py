"""The rule sets hazards ship with (rule_data.py): the confirmed articles of the major-hazard
criteria and four checklists. An administrator edits them as newer versions."""
from django.db import migrations


def load(apps, schema_editor):
    from processes.hazard.rule_data import install

    install(apps.get_model("workflow", "RuleSet"))


class Migration(migrations.Migration):
    dependencies = [("hazard", "0001_initial"), ("workflow", "0018_rule_sets_grid_role")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
