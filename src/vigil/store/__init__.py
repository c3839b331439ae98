"""store: tables, migrations, SQL and the job queue. Used by service and worker; imports nothing
of ours but `vigil.errors`. Store functions take a connection first and never open their own
transaction: the caller (a service function) owns it."""
