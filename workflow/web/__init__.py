"""Pages every case type gets from its declaration: list, new, case page, actions, uploads,
comments and the Excel ledger, mounted under the type's key (``<key>:list`` ...)."""
