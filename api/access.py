"""An access request answered: everything cdp holds about one person, as one document.

The profile (unmasked: golden values, lineage, every source record with its mapped values as the
source sent them, traits), each record's whole row as landed in the warehouse, the whole timeline,
the review candidates and stewards' decisions involving the person's records, and the audit entries
about the customer. No web framework here.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from api.audit_log import AuditLog, utc
from api.reader import ServingReader
from api.review_desk import ReviewDesk
from cdp.config import Config
from serving.access import records_as_sent


def export(reader: ServingReader, review: ReviewDesk, audit: AuditLog, cfg: Config,
           customer_id: str) -> dict[str, Any] | None:
    """The document of GET /customers/{id}/export, or None when `customer_id` is not a live customer."""
    doc = reader.profile(customer_id, None)
    if doc is None:
        return None
    profile = json.loads(doc)
    record_ids = [f"{r['source']}:{r['source_id']}" for r in profile["sources"]]
    candidates, decisions = review.involving(record_ids)
    rows = records_as_sent(cfg, [(r["source"], r["source_id"]) for r in profile["sources"]])
    return {"customer_id": customer_id, "exported_at": dt.datetime.now(dt.UTC), "profile": profile,
            "records_as_sent": rows, "timeline": _timeline(reader, customer_id),
            "links": reader.links(customer_id), "review_candidates": candidates,
            "decisions": [{**d, "at": utc(d["at"])} for d in decisions], "audit": audit.all_of(customer_id)}


def _timeline(reader: ServingReader, customer_id: str) -> list[dict[str, Any]]:
    """Every event of the customer, newest first, read page by page."""
    items, cursor = [], None
    while True:
        page = reader.timeline(customer_id, 1000, cursor, None)
        items += page.items
        if page.next_cursor is None:
            return items
        cursor = page.next_cursor
