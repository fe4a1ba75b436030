import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ('workflow', '0014_parents_parties'),
    ]

    operations = [
        migrations.CreateModel(
            name='UnitSetting',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('key', models.CharField(max_length=80, verbose_name='setting')),
                ('value', models.JSONField(verbose_name='value')),
                ('effective_from', models.DateField(default=django.utils.timezone.localdate, verbose_name='effective from')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False, verbose_name='created')),
                ('created_by', models.ForeignKey(blank=True, editable=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='created by')),
                ('unit', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='settings', to='workflow.unit', verbose_name='unit')),
            ],
            options={
                'verbose_name': 'unit setting',
                'verbose_name_plural': 'unit settings',
                'ordering': ['unit__path', 'key', '-effective_from', '-pk'],
                'indexes': [models.Index(fields=['unit', 'key', 'effective_from'], name='unit_setting_lookup_idx')],
            },
        ),
    ]
