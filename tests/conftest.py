import pytest

from tests.factories import make_world


@pytest.fixture(autouse=True)
def fresh_caches():
    """Calendar and policy tables are cached in memory; a rolled-back test must not leak into the next."""
    from workflow.kernel.calendar import forget_calendar
    from workflow.cases.escalation import forget_policies

    forget_calendar()
    forget_policies()
    yield
    forget_calendar()
    forget_policies()


@pytest.fixture(scope="session", autouse=True)
def flush_past_audit_guard():
    """Transactional tests empty the database with TRUNCATE, which the audit table refuses on
    PostgreSQL. The test flush alone runs with triggers off (SET LOCAL, as the superuser test
    connection); the guard itself stays on for every statement the tests make."""
    from django.db.backends.postgresql.operations import DatabaseOperations

    original = DatabaseOperations.execute_sql_flush

    def execute_sql_flush(self, sql_list):
        return original(self, ["SET LOCAL session_replication_role = replica", *sql_list])

    DatabaseOperations.execute_sql_flush = execute_sql_flush
    yield
    DatabaseOperations.execute_sql_flush = original


@pytest.fixture
def world(db):
    return make_world()


@pytest.fixture
def hazard_rules(db):
    """The shipped checklists and criteria, which the data migration loads and a transactional
    test's flush empties."""
    from processes.hazard.rule_data import install

    install()
