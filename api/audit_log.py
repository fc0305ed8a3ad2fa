"""The audit trail, read: who decided, merged, split or erased what, newest first.

Rows are appended by the writes they record (serving.audit); this side only reads them. Times are
stored as UTC without a zone and answered with one (RFC 3339).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from api.reader import Page, decode_cursor, encode_cursor
from serving.tables import audit

"""Past any audit id: a larger cursor value is not one this API gave out (and would overflow SQLite)."""


def utc(at: dt.datetime) -> dt.datetime:
    """A stored (zone-less UTC) time with its zone; a time given with another zone, in UTC."""
    return at.replace(tzinfo=dt.UTC) if at.tzinfo is None else at.astimezone(dt.UTC)


class AuditLog:
    """The audit table over the API's pool."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def entries(self, customer_id: str | None = None, who: str | None = None, since: dt.datetime | None = None,
                limit: int = 50, cursor: str | None = None) -> Page:
        """Entries (dicts) newest first: about `customer_id` (either customer of a decision), by `who`, at or
        after `since` (zone-less: UTC)."""
        a = audit.c
        query = sa.select(audit).order_by(a.audit_id.desc()).limit(limit + 1)
        if customer_id is not None:
            query = query.where(sa.or_(a.customer_id == customer_id, a.other_customer_id == customer_id))
        if who is not None:
            query = query.where(a.who == who)
        if since is not None:
            query = query.where(a.at >= utc(since).replace(tzinfo=None))
        if cursor is not None:
            (after,) = decode_cursor(cursor, (int,))
            query = query.where(a.audit_id < after)
        with self.engine.connect() as con:
            rows = con.execute(query).all()
        more = len(rows) > limit
        rows = rows[:limit]
        return Page([_entry(r) for r in rows], encode_cursor([rows[-1].audit_id]) if more else None)

    def all_of(self, customer_id: str) -> list[dict[str, Any]]:
        """Every entry about a customer, newest first."""
        items, cursor = [], None
        while True:
            page = self.entries(customer_id, limit=1000, cursor=cursor)
            items += page.items
            if page.next_cursor is None:
                return items
            cursor = page.next_cursor


def _entry(row: Any) -> dict[str, Any]:
    return {**row._asdict(), "at": utc(row.at)}
