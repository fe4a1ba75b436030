"""The audit record at the database (RELIABILITY 28).

TRUNCATE of the audit table is refused even for its owner. The application connects as an
ordinary role (``grant_app_role``): it changes cases as usual, but cannot rewrite, delete or
empty audit events, nor switch the guard off. Each refusal is checked on a real second
connection as that role.
"""
import secrets
from contextlib import contextmanager
from io import StringIO

import psycopg
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from workflow.storage import dbroles
from workflow.models import AuditEvent
from tests.factories import drive, make_case, make_world

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="roles and triggers are PostgreSQL's"),
]
AUDIT = AuditEvent._meta.db_table


# Helpers -------------------------------------------------------------------------------------
def superuser_sql(statement):
    with connection.cursor() as cursor:
        cursor.execute(statement)


@pytest.fixture
def make_role(transactional_db):
    """Create login roles named after this test database; drop them, and what was granted, after."""
    made = []

    def make(attributes=""):
        name = f"{connection.settings_dict['NAME'].removeprefix('test_')}_app_{secrets.token_hex(4)}"
        password = secrets.token_hex(16)
        superuser_sql(f"CREATE ROLE {name} LOGIN PASSWORD '{password}' {attributes}")
        made.append(name)
        return name, password

    yield make
    connection.close()
    for name in made:
        superuser_sql(f"DROP OWNED BY {name}")
        superuser_sql(f"DROP ROLE {name}")


@pytest.fixture
def app_role(make_role):
    name, password = make_role()
    call_command("grant_app_role", name, stdout=StringIO())
    return name, password


def connect_as(role):
    name, password = role
    settings = connection.settings_dict
    return psycopg.connect(host=settings["HOST"], port=settings["PORT"] or None, dbname=settings["NAME"],
                           user=name, password=password, autocommit=True)


@contextmanager
def django_connected_as(role):
    """Run the block with Django's own connection logged in as `role`."""
    settings = connection.settings_dict
    saved = {key: settings[key] for key in ("USER", "PASSWORD")}
    connection.close()
    settings["USER"], settings["PASSWORD"] = role
    try:
        yield
    finally:
        connection.close()
        settings.update(saved)


def guard_triggers():
    with connection.cursor() as cursor:
        cursor.execute("SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal "
                       "ORDER BY tgname", [AUDIT])
        return cursor.fetchall()


GUARD_ON = [("workflow_auditevent_append_only", "O"), ("workflow_auditevent_no_truncate", "O")]


# TRUNCATE is refused for everyone --------------------------------------------------------------
def test_truncate__refused_even_for_the_owner(world):
    # given
    make_case(world)
    count = AuditEvent.objects.count()
    # when / then
    for statement in (f"TRUNCATE {AUDIT}", f"TRUNCATE {AUDIT} RESTART IDENTITY CASCADE"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            superuser_sql(statement)
    assert AuditEvent.objects.count() == count > 0
    assert guard_triggers() == GUARD_ON


# The application's role cannot switch the guard off -------------------------------------------------
@pytest.mark.parametrize("statement", [
    f"UPDATE {AUDIT} SET reason = 'rewritten'",
    f"DELETE FROM {AUDIT}",
    f"TRUNCATE {AUDIT}",
    f"ALTER TABLE {AUDIT} DISABLE TRIGGER USER",
    f"ALTER TABLE {AUDIT} DISABLE TRIGGER workflow_auditevent_append_only",
    f"DROP TRIGGER workflow_auditevent_append_only ON {AUDIT}",
    f"DROP TRIGGER workflow_auditevent_no_truncate ON {AUDIT}",
    "CREATE OR REPLACE FUNCTION workflow_audit_append_only() RETURNS trigger AS $$ BEGIN RETURN NEW; END; $$ "
    "LANGUAGE plpgsql",
    f"DROP TABLE {AUDIT}",
    f"ALTER TABLE {AUDIT} RENAME TO audit_old",
    "SET session_replication_role = replica",
    "SET SESSION AUTHORIZATION postgres",
    "INSERT INTO django_migrations (app, name, applied) VALUES ('workflow', '9999_forged', now())",
])
def test_app_role__cannot_change_or_unguard_the_audit_record(app_role, statement):
    # given
    world = make_world()
    make_case(world)
    count = AuditEvent.objects.count()
    # when / then
    with connect_as(app_role) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement)
    assert AuditEvent.objects.count() == count
    assert not AuditEvent.objects.filter(reason="rewritten").exists()
    assert guard_triggers() == GUARD_ON


def test_app_role__makes_real_state_changes(app_role, settings, tmp_path):
    # given
    settings.EVIDENCE_ROOT = str(tmp_path)
    world = make_world()
    # when: the engine runs on a connection logged in as the application's role
    with django_connected_as(app_role):
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_user, usesuper FROM pg_user WHERE usename = current_user")
            assert cursor.fetchone() == (app_role[0], False)
        case = drive(world, make_case(world), ("handler_a", "sign"))
        events = list(AuditEvent.objects.filter(case_id=case.pk).values_list("action", flat=True))
        call_command("verify_audit", stdout=StringIO())
    # then
    assert case.status == "signed"
    assert events[-1] == "sign" and len(events) >= 3


def test_app_role__privileges_cover_every_table(app_role):
    # given
    name = app_role[0]
    tables = connection.introspection.django_table_names(only_existing=True, include_views=False)
    # when
    with connection.cursor() as cursor:
        def may(table, privilege):
            cursor.execute("SELECT has_table_privilege(%s, %s, %s)", [name, table, privilege])
            return cursor.fetchone()[0]

        granted = {table: {p for p in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "TRIGGER")
                           if may(table, p)} for table in [*tables, "django_migrations"]}
        cursor.execute("SELECT count(*) FROM pg_class WHERE relnamespace = current_schema()::regnamespace "
                       "AND pg_has_role(%s, relowner, 'MEMBER')", [name])
        owned = cursor.fetchone()[0]
    # then
    assert granted.pop(AUDIT) == {"SELECT", "INSERT"}
    assert granted.pop("django_migrations") == {"SELECT"}
    assert {t: g for t, g in granted.items() if g != {"SELECT", "INSERT", "UPDATE", "DELETE"}} == {}
    assert len(granted) > 30 and owned == 0


@pytest.mark.parametrize("command", ["grant_app_role", "migrate"])
def test_grant__from_the_owner_url_to_the_user_in_database_url(make_role, settings, monkeypatch, command):
    """Production: DATABASE_URL names the application's role, DATABASE_OWNER_URL the owner;
    grant_app_role, and migrate after migrating, connect as the owner and grant to the role."""
    # given
    app = make_role()
    owner = connection.settings_dict
    settings.DUBAN_DATABASE_OWNER = {"ENGINE": owner["ENGINE"], "NAME": owner["NAME"], "USER": owner["USER"],
                                     "PASSWORD": owner["PASSWORD"], "HOST": owner["HOST"], "PORT": owner["PORT"]}
    monkeypatch.setattr(dbroles, "_app_user", None)
    # when
    with django_connected_as(app):
        call_command(command, verbosity=0, stdout=StringIO())
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_user")
            connected = cursor.fetchone()[0]
    # then
    assert connected == owner["USER"]
    with connect_as(app) as conn:
        assert conn.execute(f"SELECT count(*) FROM {AUDIT}").fetchone()[0] == 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(f"DELETE FROM {AUDIT}")


@pytest.mark.parametrize("attributes, message", [
    ("SUPERUSER", "超级用户"),
    ("CREATEROLE", "CREATEROLE"),
    ("IN ROLE postgres", "所有者"),
])
def test_grant__refuses_a_role_that_could_unguard(make_role, attributes, message):
    # given
    name, _ = make_role(attributes)
    # when / then
    with pytest.raises(CommandError, match=message):
        call_command("grant_app_role", name)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM information_schema.role_table_grants WHERE grantee = %s", [name])
        assert cursor.fetchone()[0] == 0  # nothing was granted


@pytest.mark.parametrize("pg_version", [140000, None])
def test_grant__asks_for_the_set_privilege_only_where_postgresql_has_it(make_role, monkeypatch, pg_version):
    """has_parameter_privilege exists from PostgreSQL 15; before, only a superuser may set
    session_replication_role, and superusers are refused anyway."""
    # given
    name, _ = make_role()
    db = connections[DEFAULT_DB_ALIAS]
    if pg_version:
        monkeypatch.setattr(db, "pg_version", pg_version)
    # when
    with CaptureQueriesContext(db) as queries:
        call_command("grant_app_role", name, stdout=StringIO())
    # then
    asked = any("has_parameter_privilege" in query["sql"] for query in queries)
    assert asked == (db.pg_version >= 150000)
    with connection.cursor() as cursor:
        cursor.execute("SELECT has_table_privilege(%s, %s, 'INSERT'), has_table_privilege(%s, %s, 'DELETE')",
                       [name, AUDIT, name, AUDIT])
        assert cursor.fetchone() == (True, False)
