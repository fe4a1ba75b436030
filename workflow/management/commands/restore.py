"""Restore a backup set made by `backup`, after checking every file in it."""
from django.core.management.base import BaseCommand

from workflow.storage.backup import restore
from workflow.storage.dbroles import as_owner


class Command(BaseCommand):
    help = ("Check the backup set in SRC (manifest, dump and evidence hashes, database vendor, migrations), "
            "then replace the configured database with it and write its stored files. Stop the web "
            "server, worker and beat first.")

    def add_arguments(self, parser):
        parser.add_argument("src", help="Directory of the backup set.")
        parser.add_argument("--force", action="store_true",
                            help="Replace a database that already holds data.")

    def handle(self, *args, src, force, **options):
        app_role = as_owner()
        manifest = restore(src, force=force, app_role=app_role, log=self.stdout.write)
        self.stdout.write(self.style.SUCCESS(f"Restored the backup of {manifest['created_at']} from {src}."))
