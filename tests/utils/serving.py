"""Build a serving store (the tables of serving/tables.py) from a few hand-made customers, for API tests.

Values are given as ingestion stores them (standardised), the way publish copies them; the
search keys come from every record of a customer, as publish builds them from `staged`, and the
timeline chunks are made by publish's own query (serving.build.timeline_sql).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa
import sqlalchemy as sa

from api.mask import Mask
from cdp.config import DEFAULT_PII
from cdp.schema import PROFILE_ATTRIBUTES
from serving import tables
from serving.build import timeline_sql
from serving.store import ServingStore

NO_TRAITS: dict[str, Any] = {"lifetime_value": 0.0, "order_count": 0, "invoice_count": 0, "ticket_count": 0,
                             "first_seen": None, "last_seen": None, "tickets_90d": 0, "complaints_90d": 0,
                             "recency_tier": "low", "frequency_tier": "low", "monetary_tier": "low",
                             "loyalty": "short_low_value", "churn_risk": False}


def record(source: str, source_id: str, **values: Any) -> dict[str, Any]:
    """One standardised source record; `first_name_root` defaults to the first name."""
    values.setdefault("first_name_root", values.get("first_name"))
    return {"source": source, "source_id": source_id, **values}


@dataclass
class ServingBuilder:
    """Collects customers, redirects and interactions, then writes them into a fresh store."""

    url: str
    docs: dict[str, dict[str, Any]] = field(default_factory=dict)
    rows: dict[sa.Table, list[dict[str, Any]]] = field(default_factory=lambda: {t: [] for t in tables.PUBLISHED})
    keys: set[tuple[str, str, str]] = field(default_factory=set)
    events: list[tuple[Any, ...]] = field(default_factory=list)

    def customer(self, customer_id: str, records: list[dict[str, Any]], **traits: Any) -> dict[str, Any]:
        """A customer of `records` (dicts from `record`); golden values are each attribute's first value."""
        attributes = {a: next((r[a] for r in records if r.get(a) is not None), None) for a in PROFILE_ATTRIBUTES}
        lineage = {a: {"source": r["source"], "source_id": r["source_id"], "rule": "trust"}
                   for a in reversed(PROFILE_ATTRIBUTES) for r in reversed(records) if r.get(a) is not None}
        display = {a: v.title() if a in ("first_name", "last_name") and v else v for a, v in attributes.items()}
        # as the document shows it: an attribute no record gave has no lineage and no display form
        display = {a: display[a] if a in lineage else None for a in PROFILE_ATTRIBUTES}
        doc: dict[str, Any] = {
            "customer_id": customer_id, "attributes": attributes, "display": display,
            "lineage": dict(sorted(lineage.items())),
            "sources": [{"source": r["source"], "source_id": r["source_id"],
                         "values": {a: r[a] for a in PROFILE_ATTRIBUTES if r.get(a) is not None}} for r in records],
            "traits": {**NO_TRAITS, **traits}}
        self.docs[customer_id] = doc
        self.rows[tables.profiles].append({
            "customer_id": customer_id, "attributes": json.dumps(attributes), "sources": json.dumps(doc["sources"]),
            "lineage": json.dumps({a: [*(e[f] for f in tables.LINEAGE_FIELDS), display[a]]
                                   for a, e in doc["lineage"].items()}),
            **doc["traits"]})
        for r in records:
            self.rows[tables.source_records].append(
                {"source": r["source"], "source_id": r["source_id"], "customer_id": customer_id})
            self._search_keys(customer_id, r)
        return doc

    def _search_keys(self, customer_id: str, r: dict[str, Any]) -> None:
        name = tables.name_key(r["last_name"], r.get("first_name_root")) if r.get("last_name") else None
        for kind, value in (("email", r.get("email")), ("phone", r.get("phone")), ("name", name)):
            if value is not None and (kind, value, customer_id) not in self.keys:
                self.keys.add((kind, value, customer_id))
                self.rows[tables.search_keys].append({"kind": kind, "value": value, "customer_id": customer_id})

    def redirect(self, from_id: str, to_id: str) -> None:
        """`from_id` was merged into the live customer `to_id`."""
        self.rows[tables.redirects].append({"from_id": from_id, "to_id": to_id})

    def interaction(self, customer_id: str, at: str | None, source: str, name: str, interaction_id: str,
                    amount: float | None = None, **attributes: Any) -> None:
        """One event of a customer at an ISO time (None: unreadable); keyword arguments are its attributes."""
        self.events.append((customer_id, dt.datetime.fromisoformat(at) if at else None, source, name, interaction_id,
                            amount, json.dumps(attributes)))

    def candidate(self, candidate_id: str, left: dict[str, Any], right: dict[str, Any], match_probability: float,
                  status: str = "open", **weights: float) -> None:
        """A review candidate between two records (dicts from `record`); keyword arguments are the evidence,
        comparison -> weight."""
        explanation = [{"comparison": c, "level": "exact match" if w > 0 else "else", "weight": w}
                       for c, w in weights.items()]
        self.rows[tables.review_candidates].append({
            "candidate_id": candidate_id, "record_id_l": f"{left['source']}:{left['source_id']}",
            "record_id_r": f"{right['source']}:{right['source_id']}", "match_probability": match_probability,
            "status": status, "left_record": json.dumps(_side(left)), "right_record": json.dumps(_side(right)),
            "explanation": json.dumps(explanation)})

    def link(self, customer_id: str, record_id_l: str, record_id_r: str, match_probability: float,
             **weights: float) -> None:
        """A published link inside a customer between two record ids ('source:source_id'); keyword arguments
        are the evidence, comparison -> weight."""
        explanation = [{"comparison": c, "level": "exact match" if w > 0 else "else", "weight": w}
                       for c, w in weights.items()]
        self.rows[tables.customer_links].append({
            "customer_id": customer_id, "record_id_l": record_id_l, "record_id_r": record_id_r,
            "match_probability": match_probability, "explanation": json.dumps(explanation)})

    def write(self, version: int = 1) -> None:
        """Drop and create the serving tables, insert everything collected and log it as `version`."""
        self.rows[tables.timeline] = self._timeline()
        engine = sa.create_engine(self.url)
        try:
            tables.metadata.drop_all(engine)
            tables.metadata.create_all(engine)
            with engine.begin() as con:
                for table, rows in self.rows.items():
                    if rows:
                        con.execute(table.insert(), rows)
                con.execute(tables.publish_log.insert(), {
                    "version": version, "published_at": dt.datetime(2025, 1, 2, 3, 4, 5), "run_id": "test-run",
                    "customers": len(self.docs), "records": len(self.rows[tables.source_records])})
        finally:
            engine.dispose()


    def publish(self, more: Mapping[sa.Table, Sequence[pa.RecordBatch]] | None = None) -> int:
        """Publish everything collected as the store's next version, as a run does (ServingStore.publish: migrations,
        shadows, the change feed, the swap); return the version. `more`: batches of a table loaded after its
        collected rows."""
        self.rows[tables.timeline] = self._timeline()
        extra = more or {}
        store = ServingStore.open(self.url)
        try:
            return store.publish({table: [_batch(table, rows), *extra.get(table, ())]
                                  for table, rows in self.rows.items()})[0]
        finally:
            store.close()

    def _timeline(self) -> list[dict[str, Any]]:
        """The timeline rows of the collected events, chunked by publish's query."""
        with duckdb.connect() as con:
            con.execute("""create table events (customer_id VARCHAR, "at" TIMESTAMP, source VARCHAR, name VARCHAR,
                           interaction_id VARCHAR, amount DOUBLE, attributes JSON)""")
            if self.events:
                con.executemany("insert into events values (?, ?, ?, ?, ?, ?, ?)", self.events)
            return con.sql(timeline_sql("events")).to_arrow_table().to_pylist()


def _batch(table: sa.Table, rows: list[dict[str, Any]]) -> pa.RecordBatch:
    """The rows as one Arrow batch in the table's column order (none: a batch of no rows)."""
    if not rows:
        return pa.RecordBatch.from_pydict({c.name: pa.array([], pa.string()) for c in table.columns})
    return pa.RecordBatch.from_pylist([{c.name: r.get(c.name) for c in table.columns} for r in rows])


def _side(r: dict[str, Any]) -> dict[str, Any]:
    """A record as publish writes one side of a candidate: source, source_id and every profile attribute."""
    return {"source": r["source"], "source_id": r["source_id"], **{a: r.get(a) for a in PROFILE_ATTRIBUTES}}


def masked(doc: dict[str, Any], mask: Mask = Mask.of(DEFAULT_PII)) -> dict[str, Any]:  # noqa: B008 (frozen)
    """`doc` as a reader without pii sees it (the default `api.pii`)."""
    return {**doc, "attributes": mask.attributes(doc["attributes"]), "display": mask.attributes(doc["display"]),
            "sources": [{**r, "values": mask.attributes(r["values"])} for r in doc["sources"]]}
