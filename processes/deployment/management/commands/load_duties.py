"""Load units' duties (职责) from a table: ``python manage.py load_duties FILE.xlsx|FILE.csv
[--dry-run]``. Columns 单位, 职责 and, optionally, 关键词 (a heading row is recognised); units
are matched by their exact name, and names matching no unit, or several, are listed."""
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import translation
from django.utils.translation import gettext as _

from processes.deployment.duties import TABLE_MAX_BYTES, TableRefused, load_table, read_table


def _rows(numbers) -> str:
    shown = "、".join(str(n) for n in numbers[:10])
    return shown + ("…" if len(numbers) > 10 else "")


class Command(BaseCommand):
    help = "Load units' duties from a table (.xlsx or .csv: unit, duty, keywords)."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--dry-run", action="store_true", help="check the table and report, saving nothing")

    def handle(self, *args, **options):
        translation.activate(settings.LANGUAGE_CODE)
        path = options["file"]
        try:
            with open(path, "rb") as handle:
                data = handle.read(TABLE_MAX_BYTES + 1)
        except OSError:
            raise CommandError(_("The file cannot be read."))
        try:
            loaded = load_table(read_table(data, path), save=not options["dry_run"])
        except TableRefused as refused:
            raise CommandError(refused.message)
        for name, numbers in loaded.unmatched.items():
            self.stderr.write(_("No unit is named “%(name)s” (rows %(rows)s).")
                              % {"name": name, "rows": _rows(numbers)})
        for name, numbers in loaded.ambiguous.items():
            self.stderr.write(_("Several units are named “%(name)s”; give them different names to load their duties "
                                "(rows %(rows)s).") % {"name": name, "rows": _rows(numbers)})
        for number, reason in loaded.refused:
            self.stderr.write(_("Row %(row)d: %(reason)s") % {"row": number, "reason": reason})
        summary = _("%(added)d duties added, %(updated)d keywords updated, %(unchanged)d unchanged.") % {
            "added": loaded.added, "updated": loaded.updated, "unchanged": loaded.unchanged}
        if options["dry_run"]:
            summary = _("Nothing saved (dry run): %(summary)s") % {"summary": summary}
        self.stdout.write(summary)
