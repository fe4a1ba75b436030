"""The record of what happened: the hash-chained audit trail, the outbox and its channels, leases for retried work."""
