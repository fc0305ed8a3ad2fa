"""Alembic environment of the serving store, run programmatically by serving.migrate.

The caller hands over an open connection in `config.attributes["connection"]`; no alembic.ini.
"""

from __future__ import annotations

from alembic import context

from serving.tables import metadata

connection = context.config.attributes["connection"]
# SQLite alters a table by copying it (batch mode); PostgreSQL alters in place.
context.configure(connection=connection, target_metadata=metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
