"""Alembic, run programmatically: `upgrade(connection)` brings a serving store to the head schema."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Connection

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(connection: Connection) -> AlembicConfig:
    """An in-memory Alembic config over serving/migrations (no alembic.ini)."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def upgrade(connection: Connection) -> None:
    """Run every migration the store lacks, in the connection's transaction."""
    command.upgrade(alembic_config(connection), "head")

