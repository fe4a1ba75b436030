from django.apps import AppConfig


class EngineTestsConfig(AppConfig):
    name = "tests.engine"
    label = "engine_tests"
    verbose_name = "Engine test case types"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from workflow.documents.archive import Document, archive_for_records
        from workflow.models import Evidence

        from .models import Checklist

        archive_for_records(Checklist, Document(
            name="report", title="检查报告", template="engine/checklist.html",
            context=lambda record: {"record": record, "evidence": Evidence.objects.filter(
                record_type__model="checklist", record_id=record.pk).order_by("created_at")},
            filename=lambda record: f"检查报告-{record.pk}.pdf",
        ))
