"""Check stored evidence: every record's file exists and matches its SHA-256; list orphan files."""
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from workflow.evidence import evidence_path, sha256_of
from workflow.models import Evidence


class Command(BaseCommand):
    help = "Verify evidence files against their SHA-256 and find orphan files (exit 1 on any problem)."

    def add_arguments(self, parser):
        parser.add_argument("--delete-orphans", action="store_true", help="Remove files that no record points to.")

    def handle(self, *args, **options):
        problems, known = 0, set()
        for evidence in Evidence.objects.only("id", "sha256").iterator(chunk_size=2000):
            path = evidence_path(evidence)
            known.add(path.resolve())
            if not path.exists():
                problems += 1
                self.stderr.write(f"missing: {evidence.pk}")
            elif sha256_of(path) != evidence.sha256:
                problems += 1
                self.stderr.write(f"hash mismatch: {evidence.pk}")
        root = Path(settings.EVIDENCE_ROOT)
        orphans = [p for p in root.rglob("*") if p.is_file() and p.resolve() not in known] if root.exists() else []
        for orphan in orphans:
            self.stderr.write(f"orphan: {orphan}")
            if options["delete_orphans"]:
                orphan.unlink()
        if orphans and not options["delete_orphans"]:
            problems += len(orphans)
        self.stdout.write(f"{len(known)} evidence records checked, {len(orphans)} orphan files.")
        if problems:
            sys.exit(1)
