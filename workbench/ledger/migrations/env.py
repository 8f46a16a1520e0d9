"""Alembic environment of the ledger: run by :func:`workbench.ledger.db.init_ledger` on its connection."""

from alembic import context

from workbench.ledger.models import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
