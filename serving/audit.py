"""The API's writes to the serving store: a transactional engine, and the audit trail's one INSERT.

The audit (serving.tables.audit) is append-only: rows are added in the transaction of the change they
record, never updated or deleted, and no publish touches the table.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from serving.tables import audit


def write_engine(url: str) -> sa.Engine:
    """An engine whose `begin()` is a real transaction that holds the write lock from its start.

    On SQLite that is BEGIN IMMEDIATE (pysqlite would begin only at the first write, after the reads that
    decide it, and a publish could swap tables in between); it waits up to a minute for a running publish.
    """
    engine = sa.create_engine(url, **({"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}))
    if engine.dialect.name == "sqlite":
        @sa.event.listens_for(engine, "connect")
        def _connect(dbapi_conn: Any, _: Any) -> None:
            dbapi_conn.isolation_level = None  # transactions are begun below, not by the driver

        @sa.event.listens_for(engine, "begin")
        def _begin(conn: sa.Connection) -> None:
            conn.exec_driver_sql("begin immediate")
    return engine


def now() -> dt.datetime:
    """The time the store keeps: UTC, without a zone (as SQLAlchemy's DateTime stores it everywhere)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def record(conn: sa.Connection, action: str, who: str, *, customer_id: str | sa.ScalarSelect[Any] | None = None,
           other_customer_id: str | sa.ScalarSelect[Any] | None = None, candidate_id: str | None = None,
           detail: str | None = None, note: str | None = None, at: dt.datetime | None = None) -> int:
    """Append one audit row in `conn`'s transaction; return its id. Customer ids may be scalar subqueries."""
    values = {"at": at or now(), "who": who, "action": action, "customer_id": customer_id,
              "other_customer_id": other_customer_id, "candidate_id": candidate_id, "detail": detail, "note": note}
    return int(conn.execute(sa.insert(audit).values(**values).returning(audit.c.audit_id)).scalar_one())
