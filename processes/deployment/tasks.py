"""督办事项's background jobs: judge the open items' lights again (a deadline passing turns one
red), and build a large matter's download."""
from celery import shared_task

from . import lights


@shared_task(acks_late=True)
def refresh_lights():
    """Idempotent: a second run on the same day writes the same lights."""
    return lights.refresh_open()


@shared_task(acks_late=True)
def render_export(export_id: str):
    """Build a large matter's download (export_files.ExportFile) and store it. Idempotent: a
    rendered download is left as it is."""
    from . import export_files, exports

    def build(export):
        data = exports.build(export.kind, export.matter, export.period, export.day)
        return data, exports.DOWNLOADS[export.kind].ext

    return export_files.render(export_id, build)
