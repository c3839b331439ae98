"""Alembic environment. Vigil runs migrations itself (`vigil migrate`, and on `vigil serve`
start-up) and hands the connection in through `config.attributes["connection"]`."""

from alembic import context

from vigil.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
