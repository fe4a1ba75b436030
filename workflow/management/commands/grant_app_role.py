"""Give the application's PostgreSQL role what it needs, and no way to switch the audit guard off."""
from django.core.management.base import BaseCommand, CommandError

from workflow.storage.dbroles import as_owner, grant_app_role


class Command(BaseCommand):
    help = ("Run as the tables' owner: let ROLE (default: the user in DATABASE_URL when DATABASE_OWNER_URL "
            "is set) read and write every table, only read and append audit events, and own nothing.")

    def add_arguments(self, parser):
        parser.add_argument("role", nargs="?", help="The application's database role.")

    def handle(self, *args, role=None, **options):
        app_user = as_owner()
        role = role or app_user
        if not role:
            raise CommandError("请指定应用使用的数据库角色，或设置 DATABASE_OWNER_URL（DATABASE_URL 中的用户即应用角色）。")
        grant_app_role(role)
        self.stdout.write(f"Role {role} may read and write the tables, and only append to the audit record.")
