import pytest

from tests.factories import make_world


@pytest.fixture(autouse=True)
def fresh_caches():
    """Calendar and policy tables are cached in memory; a rolled-back test must not leak into the next."""
    from workflow.calendar import forget_calendar
    from workflow.escalation import forget_policies

    forget_calendar()
    forget_policies()
    yield
    forget_calendar()
    forget_policies()


@pytest.fixture
def world(db):
    return make_world()
