"""The change feed's cost in a publish: serving.changes.record_changes timed inside ServingStore.publish.

    python -m bench.changes [--customers 1000000] [--postgres URL]

Two crafted versions of N customers (one source record each) are published one after the other into a fresh
SQLite file and a fresh PostgreSQL schema. The second differs by 1% of customers with a new email
(customer.updated), 1% newly at churn risk (segment.entered:churn_risk) and 0.5% merged into their neighbour
(customer.merged: a redirect, the record moved): N/40 events. Printed: the second publish's wall time and the
diff's share of it (the diff runs in the swap's transaction, before the swap).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

import serving.store as store
from bench.publish import POSTGRES
from cdp.schema import TRAITS
from serving import tables

SCHEMA = "cdp_bench_changes"


def version(n: int, second: bool) -> dict[sa.Table, list[pa.RecordBatch]]:
    """The profiles, source records and redirects of version 1 or 2 (see the module)."""
    ids = [f"C{i:09d}" for i in range(n)]
    gone = set(range(0, n, 200)) if second else set()
    live = [i for i in range(n) if i not in gone]
    email = [f"p{i}{'.new' if second and i % 100 == 1 else ''}@example.com" for i in live]
    profiles: dict[str, list[Any]] = {name: [None] * len(live) for name in TRAITS}
    profiles |= {
        "customer_id": [ids[i] for i in live], "lineage": ["{}"] * len(live), "sources": ["[]"] * len(live),
        "attributes": [json.dumps({"first_name": "ANN", "last_name": f"L{i}", "email": e, "phone": "+12125550100",
                                   "city": "NEW YORK", "postcode": "10001"}) for i, e in zip(live, email, strict=True)],
        "recency_tier": ["low"] * len(live), "frequency_tier": ["mid"] * len(live),
        "loyalty": ["long_valuable"] * len(live),
        "monetary_tier": ["high" if i % 5 == 0 else "low" for i in live],
        "churn_risk": [second and i % 100 == 2 for i in live]}
    records = {"source": ["crm"] * n, "source_id": [str(i) for i in range(n)],
               "customer_id": [ids[i + 1] if i in gone else ids[i] for i in range(n)]}
    redirects = {"from_id": [ids[i] for i in sorted(gone)], "to_id": [ids[i + 1] for i in sorted(gone)]}
    return {tables.profiles: [pa.RecordBatch.from_pydict({c.name: profiles[c.name] for c in tables.profiles.columns})],
            tables.source_records: [pa.RecordBatch.from_pydict(records)],
            tables.redirects: [pa.RecordBatch.from_pydict(redirects)]}


def measure(url: str, n: int) -> str:
    """Publish both versions into the store at `url`; the second publish's and its diff's seconds."""
    timed: dict[str, float] = {}
    record = store.record_changes

    def timing(*args: Any, **kwargs: Any) -> int:
        start = time.perf_counter()
        events = record(*args, **kwargs)
        timed["diff"], timed["events"] = time.perf_counter() - start, events
        return events

    store.record_changes = timing  # type: ignore[assignment]
    target = store.ServingStore.open(url)
    try:
        target.publish(version(n, second=False))
        data = version(n, second=True)
        start = time.perf_counter()
        target.publish(data)
        total = time.perf_counter() - start
    finally:
        target.close()
        store.record_changes = record
    return (f"{target.backend:<10} {n:>9,} customers: second publish {total:6.1f} s, of which the diff "
            f"{timed['diff']:5.2f} s for {int(timed['events']):,} events")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--postgres", default=POSTGRES, help="a PostgreSQL URL; the bench uses a schema of its own")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="cdp-bench-changes-") as folder:
        print(measure(f"sqlite:///{Path(folder) / 'serving.db'}", args.customers), flush=True)
    engine = sa.create_engine(args.postgres)
    with engine.begin() as conn:
        conn.execute(sa.text(f"drop schema if exists {SCHEMA} cascade"))
        conn.execute(sa.text(f"create schema {SCHEMA}"))
    try:
        print(measure(_in_schema(args.postgres), args.customers))
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"drop schema {SCHEMA} cascade"))
        engine.dispose()


def _in_schema(url: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{SCHEMA}"


if __name__ == "__main__":
    main()
