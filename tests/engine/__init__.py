"""Case types that exist only in the tests: the platform's pages, API, ledger and engine serve
them from their declarations alone (installed by config/settings/test.py)."""
