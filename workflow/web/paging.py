"""Pagination whose cost does not grow with the table: counts stop at a cap."""
from django.core.paginator import Paginator
from django.utils.functional import cached_property

COUNT_CAP = 1000


def capped_count(queryset, cap=COUNT_CAP) -> int:
    """The number of rows, counted up to `cap` + 1 (so "more than cap" can be shown)."""
    return queryset[: cap + 1].count()


class CappedPaginator(Paginator):
    """A paginator that counts at most COUNT_CAP + 1 rows; `capped` says the count stopped."""

    cap = COUNT_CAP

    @cached_property
    def count(self):
        return capped_count(self.object_list, self.cap)

    @property
    def capped(self):
        return self.count > self.cap
