"""migrate, connected as the tables' owner when DATABASE_OWNER_URL is set.

Afterwards the application's role (the user in DATABASE_URL) is granted what it needs on any
new table, with the audit table kept append-only (workflow/dbroles.py).
"""
from django.core.management.commands.migrate import Command as DjangoMigrate
from django.db import DEFAULT_DB_ALIAS

from workflow.storage.dbroles import as_owner, grant_app_role


class Command(DjangoMigrate):
    def handle(self, *args, **options):
        app_user = as_owner() if options["database"] == DEFAULT_DB_ALIAS else None
        super().handle(*args, **options)
        if app_user:
            grant_app_role(app_user)
            if options["verbosity"]:
                self.stdout.write(f"Privileges of the application role {app_user} brought up to date.")
