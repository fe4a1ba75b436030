"""Loading a case under its lock.

The lock covers the case's viewflow Process row, the row that viewflow's
``select_for_update_lock`` (every CaseFlow's ``lock_impl``) locks, so the engine and
viewflow's own machinery exclude each other; and the case's own rows, so that a
transaction that had to wait reads them as the winner left them (PostgreSQL re-reads
only the rows a FOR UPDATE locks). The engine takes the lock in the query that loads
the case, which saves a round trip on every transition. It waits rather than failing
fast: the second of two concurrent actors then sees the first one's result.
"""


def load_locked(model, case_id, *related):
    """The case with `related` joined, its rows and its process row locked until the transaction ends."""
    parents = [link.name for link in model._meta.parents.values()]
    return (model.objects.select_related("process", *related)
            .select_for_update(of=("self", *parents, "process")).filter(pk=case_id).first())
