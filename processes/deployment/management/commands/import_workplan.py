"""python manage.py import_workplan FILE [--year YYYY] [--json]: parse a work plan and print its tree."""
import json
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import translation

from processes.deployment.intake.readers import WorkplanRejected, check_size, read_file
from processes.deployment.intake.workplan import parse


class Command(BaseCommand):
    help = "Parse a work plan (.txt or .docx) into a tree of items; --json prints it as JSON."

    def add_arguments(self, parser):
        parser.add_argument("file", help="a .txt or .docx file, or - for text on standard input")
        parser.add_argument("--year", type=int, help="the plan's year, for 年内 / 年底前")
        parser.add_argument("--json", action="store_true", help="print the tree as JSON")

    def handle(self, *args, **options):
        with translation.override(settings.LANGUAGE_CODE):
            year = options.get("year")
            if year is not None and not 1900 <= year <= 2999:
                raise CommandError(translation.gettext("The year must be a four-digit year."))
            name = options["file"]
            try:
                if name == "-":
                    data = sys.stdin.buffer.read(settings.WORKPLAN_MAX_BYTES + 1)
                    name = "stdin.txt"
                else:
                    path = Path(name)
                    if not path.is_file():
                        raise CommandError(translation.gettext("The file does not exist."))
                    check_size(path.stat().st_size)  # before reading it
                    data = path.read_bytes()
                text = read_file(name, data)
            except WorkplanRejected as refused:
                raise CommandError(refused.message)
            plan = parse(text, year=year)
            if options["json"]:
                self.stdout.write(json.dumps(plan.as_dict(), ensure_ascii=False, indent=1))
            else:
                self._print_tree(plan)

    def _print_tree(self, plan):
        out = self.stdout
        if plan.preamble:
            out.write(translation.gettext("Preamble: %(text)s") % {"text": plan.preamble[:60]})
        for note in plan.notes:
            out.write(translation.gettext("Note: %(text)s") % {"text": note})
        for item in plan.walk():
            line = "  " * (item.level - 1) + " ".join(p for p in (item.number, item.title) if p)
            extras = []
            if item.deadline:
                extras.append(item.deadline["text"])
            extras.extend(t["text"] for t in item.targets)
            if extras:
                line += "  [" + "；".join(extras) + "]"
            out.write(line)
