"""The only code that knows the database's and the file stores' particulars: pipelined statements, row locks, database roles, backups, whole-file storage."""
