"""Which publish a run makes: full (every table rebuilt and swapped in) or partial (the dirty customers' rows only).

Identity lists in the warehouse's dirty_customers the customers whose served rows may have changed
(cdp.schema.DIRTY_CUSTOMERS). Replacing only those rows is right only if the rest of the live version is what
this warehouse published last: so the warehouse remembers that version (cdp.schema.LAST_PUBLISH) and a publish is
partial only when the store still has it live, unmigrated, sealed as this run would seal. A successful publish
records its version and empties the list; a failed one leaves both, so the next run republishes those customers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import duckdb

from cdp.schema import DIRTY_ALL, DIRTY_CUSTOMERS, LAST_PUBLISH, TABLES, create_table
from cdp.warehouse import table_exists
from serving.store import LiveVersion, Partial, ServingStore

FULL_SHARE = 0.1
"""A publish is full when more than this share of the live customers is dirty. A partial publish costs per
customer replaced (indexed deletes, the change feed's diff, inserts into indexed tables), a full one per customer
published (bulk loads into bare tables): at 1% dirty the partial is many times faster (bench/publish.py), and the
per-row costs are several times higher, so past about a tenth the full publish is as fast, and simpler."""
ALWAYS_PARTIAL = 1_000
"""Dirty customers few enough to replace partially whatever the share: a small store's full publish is quick, but
a thousand customers' rows replace in well under a second anyway."""


@dataclass(frozen=True)
class Plan:
    """The publish to make: `partial` None for a full one, with `reason` saying why."""

    partial: Partial | None
    reason: str = ""


def plan_publish(con: duckdb.DuckDBPyConnection, store: ServingStore, sealed: Mapping[str, str] | None,
                 full: bool = False) -> Plan:
    """The publish of the warehouse into the (migrated) `store`: partial when the store's live version is the one
    this warehouse last published and few customers are dirty. `sealed`: the publish_log values of this run's
    encryption (None: plain). `full`: the run asked to redo everything."""
    if full:
        return Plan(None, "the run asked for a full publish")
    if not table_exists(con, DIRTY_CUSTOMERS):
        return Plan(None, "nothing is known of what changed (no dirty_customers table)")
    live = store.live_version()
    if live is None:
        return Plan(None, "the store has no published version")
    moved = _moved_on(con, store, live, sealed or {})
    if moved:
        return Plan(None, moved)
    ids = [row[0] for row in con.execute(f"select customer_id from {DIRTY_CUSTOMERS} order by 1").fetchall()]
    if DIRTY_ALL in ids:
        return Plan(None, "identity redid every customer")
    if len(ids) > max(FULL_SHARE * live.customers, ALWAYS_PARTIAL):
        return Plan(None, f"{len(ids)} of {live.customers} customers changed (over {FULL_SHARE:.0%})")
    return Plan(Partial(ids, live.version))


def _moved_on(con: duckdb.DuckDBPyConnection, store: ServingStore, live: LiveVersion,
              sealed: Mapping[str, str]) -> str:
    """Why the store's live version cannot take a partial publish from this warehouse ('' when it can)."""
    if (sealed.get("key_id"), sealed.get("hashed_search")) != (live.key_id, live.hashed_search):
        return "the encryption changed (data key or api.pii)"
    last = con.execute(f"select * from {LAST_PUBLISH}").fetchall() if table_exists(con, LAST_PUBLISH) else []
    if not last:
        return "this warehouse has not published yet"
    store_url, version, published_at, schema = last[0]
    if store_url != _name(store) or (version, published_at) != (live.version, live.published_at):
        return f"the store's live version {live.version} is not the one this warehouse last published"
    if schema != live.schema:
        return "the store's schema was migrated"
    return ""


def published(con: duckdb.DuckDBPyConnection, store: ServingStore, version: int) -> None:
    """After `version` committed: remember it as this warehouse's last publish and empty the dirty list."""
    live = store.live_version(version)
    if live is None:
        raise ValueError(f"serving: version {version} is not in the store's publish log")
    create_table(con, TABLES[LAST_PUBLISH], replace=True)
    con.execute(f"insert into {LAST_PUBLISH} values (?, ?, ?, ?)",
                [_name(store), live.version, live.published_at, live.schema])
    if table_exists(con, DIRTY_CUSTOMERS):
        con.execute(f"delete from {DIRTY_CUSTOMERS}")


def _name(store: ServingStore) -> str:
    """The store's URL without its password: which store the warehouse published to."""
    return store.engine.url.render_as_string()
