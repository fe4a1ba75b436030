"""Read a task table (任务分解表, .xlsx) and print its rows, its column mapping and the unit
names that need resolving: ``python manage.py import_tasktable FILE [--sheet NAME]
[--user USERNAME] [--map field=COL ...] --json``. Nothing is saved."""
import json
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import translation
from django.utils.translation import gettext as _

from processes.deployment.intake.task_table import FIELDS, TableRefused, read_task_table
from workflow.models import User


class Command(BaseCommand):
    help = "Read a task table (.xlsx) and print its rows, column mapping and unmatched units."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--sheet", default=None, help="the sheet to read (default: the first visible one)")
        parser.add_argument("--user", default=None, help="match units among those this user may see")
        parser.add_argument("--map", action="append", default=[], metavar="FIELD=COLUMN",
                            help=f"map a field ({', '.join(FIELDS)}) to a column letter or heading")
        parser.add_argument("--json", action="store_true", help="print JSON (the only output there is)")

    def handle(self, *args, **options):
        translation.activate(settings.LANGUAGE_CODE)
        mapping = {}
        for item in options["map"]:
            field, sep, column = item.partition("=")
            if not sep:
                raise CommandError(_("A column mapping is written field=column, e.g. lead=C."))
            mapping[field.strip()] = column.strip()
        user = None
        if options["user"]:
            user = User.objects.select_related("unit").filter(username=options["user"]).first()
            if user is None:
                raise CommandError(_("No user is named “%(name)s”.") % {"name": options["user"][:50]})
        try:
            with open(options["file"], "rb") as handle:
                data = handle.read(settings.TASK_TABLE_MAX_BYTES + 1)
        except OSError:
            raise CommandError(_("The file cannot be read."))
        try:
            result = read_task_table(data, sheet=options["sheet"], mapping=mapping, user=user)
        except TableRefused as refused:
            self.stderr.write(refused.message)
            sys.exit(1)
        self.stdout.write(json.dumps(result, ensure_ascii=False, indent=1))
