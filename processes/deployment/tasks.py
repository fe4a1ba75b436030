"""督办事项's periodic job: judge the open items' lights again (a deadline passing turns one red)."""
from celery import shared_task

from . import lights


@shared_task(acks_late=True)
def refresh_lights():
    """Idempotent: a second run on the same day writes the same lights."""
    return lights.refresh_open()
