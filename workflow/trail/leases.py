"""Work on a row done with no transaction open (an email sent, a document rendered), under a lease.

A worker takes the row in one short transaction (``Leased.take``): it locks the row if it is
due and no other transaction holds it, counts the attempt and moves the row's due time past
the lease, so that no other worker takes it meanwhile. It then works with no transaction open
(a slow mail server or renderer holds no lock) and records the outcome itself: done, or
``Leased.failed`` (due again after a backoff, or given up after the last attempt). A worker
that dies while working (killed, out of memory, restarted) records nothing: the row is due
again when the lease runs out. Its attempt was counted when it took the lease, so work that
kills its worker every time is given up after the last attempt like any other failure, not
retried for ever.
"""
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone


def lease_seconds() -> int:
    """How long a worker may take over one row before another may try it again."""
    return getattr(settings, "DUBAN_OUTBOX_LEASE_SECONDS", 300)


def backoff(attempts: int) -> timedelta:
    """The wait before the next attempt after `attempts` failed ones: base, twice that, ... up to an hour."""
    return timedelta(seconds=min(3600, settings.DUBAN_RETRY_BASE_SECONDS * 2 ** (attempts - 1)))


def lock_due(queryset, pk):
    """The row `pk` of `queryset` if it is due and no other worker holds it, locked until the
    transaction ends; else None. (On PostgreSQL a row another transaction holds is skipped,
    not waited for; a row leased by another worker is not due.)"""
    return (queryset.select_for_update(skip_locked=True, of=("self",))
            .filter(pk=pk, next_attempt_at__lte=timezone.now()).first())


class Leased:
    """Rows of one kind worked on under a lease. `pending()` gives the rows still to do (the
    model has `attempts`, `next_attempt_at` and `last_error`). With `max_attempts`, a row whose
    last attempt failed, or ran out of its lease, is given up: updated with `give_up(now)`'s
    fields (``{"failed_at": now}``) so that it leaves `pending()`; without, it is retried with
    backoff for ever."""

    def __init__(self, pending: Callable[[], QuerySet], *, max_attempts: int | None = None,
                 give_up: Callable[[datetime], dict] | None = None):
        assert (max_attempts is None) == (give_up is None), "a limit needs a way to give up, and the reverse"
        self.pending, self.max_attempts, self.give_up = pending, max_attempts, give_up

    def exhausted(self, attempts: int) -> bool:
        return self.max_attempts is not None and attempts >= self.max_attempts

    def take(self, pk, queryset: QuerySet | None = None):
        """The row `pk` (read through `queryset`, a narrowing of `pending()`, for its related
        rows), leased to this worker with this attempt counted; None if it is not due, another
        worker holds it, or its attempts have all been taken by workers that never finished
        (then it is given up here)."""
        with transaction.atomic():
            row = lock_due(self.pending() if queryset is None else queryset, pk)
            if row is None:
                return None
            now = timezone.now()
            if self.exhausted(row.attempts):
                self.pending().filter(pk=pk).update(
                    last_error=f"attempt {row.attempts} did not finish within its lease of {lease_seconds()} s "
                               "(its worker stopped); no attempts are left", **self.give_up(now))
                return None
            self.pending().filter(pk=pk).update(attempts=F("attempts") + 1,
                                                next_attempt_at=now + timedelta(seconds=lease_seconds()))
        row.attempts += 1
        return row

    def failed(self, row, exc: BaseException, **fields):
        """Record that the attempt `row` was taken for failed with `exc`: due again after the
        backoff, or given up if it was the last. `fields` are written with it."""
        now = timezone.now()
        last = self.give_up(now) if self.exhausted(row.attempts) else {"next_attempt_at": now + backoff(row.attempts)}
        self.pending().filter(pk=row.pk).update(last_error=repr(exc)[:2000], **last, **fields)
