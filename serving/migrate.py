"""Alembic, run programmatically: `upgrade(connection)` brings a serving store to the head schema."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(connection: Connection | None = None) -> AlembicConfig:
    """An in-memory Alembic config over serving/migrations (no alembic.ini)."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def upgrade(connection: Connection) -> None:
    """Run every migration the store lacks, in the connection's transaction."""
    command.upgrade(alembic_config(connection), "head")


def is_current(connection: Connection) -> bool:
    """Whether the store is at the head revision already (a cheap check before taking any lock)."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    return MigrationContext.configure(connection).get_current_revision() == head
