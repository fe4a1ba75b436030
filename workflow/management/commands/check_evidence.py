"""Check stored evidence: every record's file exists and matches its SHA-256; list orphan files."""
import sys
import uuid
from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone

from workflow.storage.files import describe, digest, evidence_storage, walk
from workflow.models import Evidence


class Command(BaseCommand):
    help = ("Verify evidence files in the evidence store against their SHA-256 and size, and find orphan files "
            "that no record names (exit 1 on any problem).")

    def add_arguments(self, parser):
        parser.add_argument("--delete-orphans", action="store_true", help="Remove files that no record points to.")
        parser.add_argument("--min-age", type=int, default=0, metavar="SECONDS",
                            help="Leave out files stored less than SECONDS ago: while the application runs, an "
                                 "upload stores its file a moment before its record commits (e.g. 3600).")

    def handle(self, *args, **options):
        storage = evidence_storage()
        problems, known = 0, set()
        for evidence in Evidence.objects.only("id", "sha256", "size").iterator(chunk_size=2000):
            known.add(evidence.storage_name)
            try:
                sha, size = digest(storage, evidence.storage_name)
            except FileNotFoundError:
                problems += 1
                self.stderr.write(f"missing: {evidence.pk}")
                continue
            if (sha, size) != (evidence.sha256, evidence.size):
                problems += 1
                self.stderr.write(f"hash mismatch: {evidence.pk}")
        orphans = [name for name in walk(storage) if name not in known and self._orphan(storage, name, options)]
        for orphan in orphans:
            self.stderr.write(f"orphan: {orphan}")
            if options["delete_orphans"]:
                storage.delete(orphan)
        if orphans and not options["delete_orphans"]:
            problems += len(orphans)
        self.stdout.write(f"{len(known)} evidence records checked, {len(orphans)} orphan files "
                          f"({describe(storage)}).")
        if problems:
            sys.exit(1)

    @staticmethod
    def _orphan(storage, name, options) -> bool:
        """A file no record named when the records were read: still none now (a record that
        committed since names it), and old enough."""
        try:
            pk = uuid.UUID(name.rpartition("/")[2])
        except ValueError:
            pk = None
        if pk is not None and Evidence(id=pk).storage_name == name and Evidence.objects.filter(pk=pk).exists():
            return False
        if options["min_age"] <= 0:
            return True
        try:
            return storage.get_modified_time(name) < timezone.now() - timedelta(seconds=options["min_age"])
        except FileNotFoundError:  # deleted since the listing: an upload that was refused
            return False
