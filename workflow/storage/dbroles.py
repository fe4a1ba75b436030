"""The application's PostgreSQL role, and the owner's.

The audit table's triggers refuse UPDATE, DELETE and TRUNCATE, but whoever owns the table
(or is a superuser) can switch them off: ``ALTER TABLE … DISABLE TRIGGER``, ``DROP
TRIGGER``, ``SET session_replication_role = replica``. So in production the application
connects as an ordinary role that owns nothing (``DATABASE_URL``), and only the schema
commands — migrate, backup, restore, grant_app_role — connect as the owner
(``DATABASE_OWNER_URL``, settings.DUBAN_DATABASE_OWNER).

The application role may read and write every table, except that it may only read and
append to the audit table and only read the migration record.
"""
import re

from django.conf import settings
from django.core.management.base import CommandError
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.migrations.recorder import MigrationRecorder

from workflow.models import AuditEvent

ROLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
CREDENTIALS = ("USER", "PASSWORD", "HOST", "PORT")

_app_user = None


def as_owner():
    """Point the default connection at the owner's credentials for the rest of this process
    (same database). Returns the application's user name when DATABASE_OWNER_URL is set and
    names another role, else None."""
    global _app_user
    owner = settings.DUBAN_DATABASE_OWNER
    if not owner:
        return None
    conn = connections[DEFAULT_DB_ALIAS]
    if _app_user is None:
        _app_user = conn.settings_dict["USER"]
    conn.close()
    # settings_dict is shared by every connection this process opens for the alias.
    conn.settings_dict.update({key: owner.get(key, "") for key in CREDENTIALS})
    conn.settings_dict["OPTIONS"] = {**conn.settings_dict.get("OPTIONS", {}), **owner.get("OPTIONS", {})}
    return _app_user if _app_user != owner["USER"] else None


def _refusal(cursor, role):
    """Why `role` must not be the application's role, or None."""
    cursor.execute("SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = %s", [role])
    row = cursor.fetchone()
    if row is None:
        return f"数据库角色“{role}”不存在，请先创建（见 README）。"
    if row[0]:
        return f"角色“{role}”是超级用户，可以关闭审计表的保护，不能用作应用角色。"
    if row[1]:
        return f"角色“{role}”有 CREATEROLE 权限，可以把自己加入表的所有者，不能用作应用角色。"
    cursor.execute("SELECT current_user")
    if cursor.fetchone()[0] == role:
        return f"角色“{role}”就是当前连接的所有者角色；应用须使用另一个普通角色。"
    # Owning (or being able to become) the owner of any table or function here would let
    # the role switch the guard off.
    cursor.execute(
        """SELECT count(*) FROM (
               SELECT c.relowner AS owner FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace
               UNION SELECT p.proowner FROM pg_proc p WHERE p.pronamespace = current_schema()::regnamespace
           ) o WHERE pg_has_role(%s, o.owner, 'MEMBER')""", [role])
    if cursor.fetchone()[0]:
        return f"角色“{role}”拥有（或可以切换为）本库表或函数的所有者，不能用作应用角色。"
    # Before PostgreSQL 15 only a superuser may set it (refused above), and has_parameter_privilege
    # does not exist.
    if cursor.db.pg_version >= 150000:
        cursor.execute("SELECT has_parameter_privilege(%s, 'session_replication_role', 'SET')", [role])
        if cursor.fetchone()[0]:
            return f"角色“{role}”被授予了设置 session_replication_role 的权限，可以关闭触发器，不能用作应用角色。"
    return None


def grant_app_role(role):
    """Give `role` what the application needs on the current schema, and nothing more.
    Run as the owner; safe to run again (after every migrate, say)."""
    conn = connections[DEFAULT_DB_ALIAS]
    if conn.vendor != "postgresql":
        raise CommandError("应用角色只用于 PostgreSQL；当前配置的是其他数据库。")
    if not ROLE_NAME.match(role or ""):
        raise CommandError(f"角色名“{role}”不合规：只能由字母、数字和下划线组成，且不以数字开头。")
    quote = conn.ops.quote_name
    who = quote(role)
    append_only = quote(AuditEvent._meta.db_table)
    read_only = quote(MigrationRecorder.Migration._meta.db_table)
    with conn.cursor() as cursor:
        problem = _refusal(cursor, role)
        if problem:
            raise CommandError(problem)
        cursor.execute("SELECT quote_ident(current_schema())")
        schema = cursor.fetchone()[0]
    with transaction.atomic(), conn.cursor() as cursor:
        for statement in (
            f"GRANT USAGE ON SCHEMA {schema} TO {who}",
            f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {who}",
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {who}",
            f"REVOKE UPDATE, DELETE ON {append_only} FROM {who}",
            f"REVOKE INSERT, UPDATE, DELETE ON {read_only} FROM {who}",
            f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM {who}",
            f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {who}",
            # Tables the owner creates later (a new migration) are usable at once; run this
            # command again afterwards all the same (migrate does) to keep the exceptions above.
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {who}",
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT USAGE, SELECT ON SEQUENCES TO {who}",
        ):
            cursor.execute(statement)
