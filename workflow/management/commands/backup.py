"""Back up the database and the evidence store into a new directory, with a manifest."""
from django.core.management.base import BaseCommand

from workflow.storage.backup import backup
from workflow.storage.dbroles import as_owner


class Command(BaseCommand):
    help = ("Write a backup set into DEST (a new or empty directory): the database (pg_dump, or SQLite's "
            "online backup), every evidence file and archived document, and manifest.json with hashes, row "
            "counts and migrations.")

    def add_arguments(self, parser):
        parser.add_argument("dest", help="Directory to create for the backup set.")

    def handle(self, *args, dest, **options):
        as_owner()
        manifest = backup(dest)
        rows = sum(manifest["tables"].values())
        self.stdout.write(self.style.SUCCESS(
            f"Backup written to {dest}: {manifest['database']['vendor']} database, {len(manifest['tables'])} tables, "
            f"{rows} rows, {len(manifest['evidence'])} evidence files, "
            f"{len(manifest['documents'])} archived documents."))
