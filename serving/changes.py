"""The change feed's outbox: what a publish changed, found in SQL between the live tables and their shadows.

`record_changes` runs in the publish's swap transaction, just before the swap (the live tables still hold the
previous version, the shadows the new one), so the events and the version they describe commit together or
not at all. It compares, set-based in the store's own SQL:

- profiles: a customer only in the new version is `customer.created`; one whose golden attributes differ is
  `customer.updated` (the names in `changed`, the new values kept for the feed); one gone whose id now
  redirects to a survivor is merged: one `customer.merged` per survivor, naming the ids merged into it
  (identity/ids.py keeps those redirects); one gone without a redirect is `customer.removed`.
- source records: a live customer some of whose records now belong to another customer is `customer.split`,
  naming the customers that took them.
- the segment traits: `segment.entered:NAME` / `segment.left:NAME` for each segment of cdp.schema.SEGMENTS
  a customer joined or left (a new customer enters its segments; a customer gone leaves none).

Events are appended in that order (per kind, by customer id), so a customer's events come in the order they
should be acted on. The first publish into a store is the baseline: it records nothing (the API lists the
starting state). `record_erasure` is the API's `customer.erased`, written in the erasure's transaction.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from cdp.schema import CHURN_RISK, PROFILE_ATTRIBUTES, SEGMENT_TIERS
from serving.tables import changes, profiles, publish_log, redirects, source_records


@dataclass(frozen=True)
class FeedSql:
    """What the diff's SQL needs of an engine: JSON members and arrays, settings for one large query."""

    member: str
    """Format of a member's value as text: {doc} a JSON object's text, {key} the member's name."""
    array: str
    """Format of an aggregate: the JSON array text of {value} over a group (order as the rows come)."""
    setup: tuple[str, ...] = ()
    """Statements run in the transaction before the diff."""


def _changed(feed_sql: FeedSql) -> str:
    """SQL: the JSON array text of the attribute names whose values differ between o_attributes and n_attributes."""
    def differs(attr: str) -> str:
        old, new = (feed_sql.member.format(doc=f"{side}_attributes", key=attr) for side in ("o", "n"))
        return f"case when {old} is distinct from {new} then '\"{attr}\",' else '' end"

    return "'[' || rtrim(" + " || ".join(map(differs, PROFILE_ATTRIBUTES)) + ", ',') || ']'"


NO_DETAIL = "'{}'"
"""SQL: the detail of an event that has none."""
SEGMENT_COLUMNS = (*(f"{tier}_tier" for tier in SEGMENT_TIERS), "loyalty", CHURN_RISK)
"""The profiles columns segment membership is read from."""


def _segment_events() -> list[str]:
    """SQL selects of events over `seg`: the segments each customer left, then those it entered."""
    def event(rank: int, kind: str, name: str, where: str) -> str:
        return f"select {rank} as rank, customer_id, 'segment.{kind}:' || {name} as type, {NO_DETAIL} as detail, " \
               f"NULL as attributes from seg where {where}"

    left, entered = [], []
    for column in SEGMENT_COLUMNS[:-1]:
        prefix = f"'{column.removesuffix('_tier')}:' || " if column.endswith("_tier") else ""
        moved = f"o_{column} is distinct from n_{column}"
        left.append(event(6, "left", prefix + f"o_{column}", f"was and o_{column} is not null and {moved}"))
        entered.append(event(7, "entered", prefix + f"n_{column}", f"n_{column} is not null and {moved}"))
    churn_o, churn_n = f"coalesce(o_{CHURN_RISK}, false)", f"coalesce(n_{CHURN_RISK}, false)"
    left.append(event(6, "left", f"'{CHURN_RISK}'", f"was and {churn_o} and not {churn_n}"))
    entered.append(event(7, "entered", f"'{CHURN_RISK}'", f"{churn_n} and not {churn_o}"))
    return left + entered


def diff_sql(feed_sql: FeedSql, next_profiles: str, next_records: str, next_redirects: str,
             attributes_readable: bool = True, live: Mapping[str, str] | None = None) -> str:
    """SQL: (rank, customer_id, type, detail, attributes) of every change from the live tables to the shadows
    named; the outbox orders them by rank, customer id and type. Without `attributes_readable` (either version's
    golden attributes encrypted, each with a nonce of its own) no customer.updated. `live`: what to read as the
    live profiles and source records instead of the tables (a partial publish's: its customers' rows only)."""
    differ, updated = (("o.attributes <> n.attributes", "o_attributes <> n_attributes") if attributes_readable
                       else ("false", "false"))
    reads = {profiles.name: profiles.name, source_records.name: source_records.name, **(live or {})}
    old_profiles, records = reads[profiles.name], reads[source_records.name]
    moved = " or ".join(f"o.{c} is distinct from n.{c}" for c in SEGMENT_COLUMNS)
    sides = ", ".join(f"o.{c} as o_{c}, n.{c} as n_{c}" for c in SEGMENT_COLUMNS)
    merged = feed_sql.array.format(value="from_id")
    split = feed_sql.array.format(value="other")
    gone_sides = ", ".join(f"o.{c} as o_{c}, NULL as n_{c}" for c in SEGMENT_COLUMNS)
    # One pass over each version's profiles keeps the customers that differ in any way (a few percent): every
    # other part reads those, not a million rows again. (Not a full outer join: SQLite's is far slower.)
    return f"""
        with pairs as materialized (
            select n.customer_id, o.customer_id is not null as was, true as now, o.attributes as o_attributes,
                   n.attributes as n_attributes, {sides}
            from {next_profiles} n left join {old_profiles} o on o.customer_id = n.customer_id
            where o.customer_id is null or {differ} or {moved}
            union all
            select o.customer_id, true, false, o.attributes, NULL, {gone_sides}
            from {old_profiles} o
            where not exists (select 1 from {next_profiles} n where n.customer_id = o.customer_id)),
        seg as (select * from pairs where now),
        gone as (select customer_id from pairs where not now),
        moves as (
            select distinct o.customer_id, n.customer_id as other
            from {records} o join {next_records} n on n.source = o.source and n.source_id = o.source_id
            where n.customer_id <> o.customer_id
              and not exists (select 1 from gone g where g.customer_id = o.customer_id)),
        events as (
            select 1 as rank, customer_id, 'customer.created' as type, {NO_DETAIL} as detail, NULL as attributes
            from pairs where now and not was
            union all
            select 2, to_id, 'customer.merged', '{{"merged_ids":' || {merged} || '}}', NULL
            from (select r.to_id, r.from_id from {next_redirects} r join gone g on g.customer_id = r.from_id
                  order by r.to_id, r.from_id) m group by to_id
            union all
            select 3, customer_id, 'customer.split', '{{"split_ids":' || {split} || '}}', NULL
            from (select customer_id, other from moves order by customer_id, other) s group by customer_id
            union all
            select 4, g.customer_id, 'customer.removed', {NO_DETAIL}, NULL from gone g
            where not exists (select 1 from {next_redirects} r where r.from_id = g.customer_id)
            union all
            select 5, customer_id, 'customer.updated', '{{"changed":' || changed || '}}', attributes
            from (select customer_id, {_changed(feed_sql)} as changed, n_attributes as attributes
                  from pairs where was and now and {updated}) u
            where changed <> '[]'
            union all
            {" union all ".join(_segment_events())})
        select rank, customer_id, type, detail, attributes from events"""


def lock_outbox(conn: sa.Connection) -> None:
    """Take the outbox for this transaction's appends, first thing in it: event ids then commit in order, so a
    reader's cursor never passes an id still to commit. SQLite has one writer at a time already; PostgreSQL's
    EXCLUSIVE mode lets readers through and holds other writers until commit (each takes it before any other
    lock, so a publish and an erasure cannot deadlock)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"lock table {changes.name} in exclusive mode")


def record_changes(conn: sa.Connection, feed_sql: FeedSql, version: int, at: dt.datetime,
                   shadows: Mapping[str, str], attributes_readable: bool = True,
                   live: Mapping[str, str] | None = None) -> int:
    """Append the changes from the live version to the shadows (live name -> shadow name) as `version`'s
    events, in `conn`'s transaction, before the swap; return how many. Nothing on a store's first publish.

    A partial publish's shadows hold some customers' rows: `live` (see diff_sql) narrows the live side to the
    same customers, and the diff finds those customers' events, the full diff's events of them."""
    lock_outbox(conn)
    for statement in feed_sql.setup:
        conn.exec_driver_sql(statement)
    if conn.execute(sa.select(sa.func.count()).select_from(publish_log)).scalar_one() == 0:
        return 0
    sql = diff_sql(feed_sql, shadows[profiles.name], shadows[source_records.name], shadows[redirects.name],
                   attributes_readable, live)
    insert = sa.text(f"""insert into {changes.name} (version, at, type, customer_id, detail, attributes)
        select :version, :at, type, customer_id, detail, attributes from ({sql}) diff
        order by rank, customer_id, type""").bindparams(sa.bindparam("at", type_=sa.DateTime))
    return int(conn.execute(insert, {"version": version, "at": at}).rowcount or 0)


def record_erasure(conn: sa.Connection, customer_id: str, at: dt.datetime) -> None:
    """Append `customer.erased` in the erasure's transaction, and forget the values events kept of the customer
    (call before the redirects to it are deleted)."""
    forget_values(conn, customer_id)
    version = sa.select(sa.func.max(publish_log.c.version)).scalar_subquery()
    conn.execute(sa.insert(changes).values(version=version, at=at, type="customer.erased", customer_id=customer_id,
                                           detail="{}"))


def forget_values(conn: sa.Connection, customer_id: str) -> None:
    """Drop the attribute values the outbox keeps of a customer and of the ids merged into it."""
    merged = sa.select(redirects.c.from_id).where(redirects.c.to_id == customer_id)
    conn.execute(sa.update(changes).where(sa.or_(changes.c.customer_id == customer_id,
                                                 changes.c.customer_id.in_(merged)))
                 .where(changes.c.attributes.is_not(None)).values(attributes=None))


def read_changes(conn: sa.Connection, after: int, types: Sequence[str], limit: int) -> list[dict[str, Any]]:
    """Up to `limit` events after event id `after` (0: from the first), of `types` (empty: all), in order,
    as documents (see `document`)."""
    c = changes.c
    query = sa.select(changes).where(c.event_id > after).order_by(c.event_id).limit(limit)
    if types:
        query = query.where(c.type.in_(types))
    return [document(row) for row in conn.execute(query)]


def document(row: Any) -> dict[str, Any]:
    """An event as the feed and the webhooks send it: event_id, type, customer_id, version, at (RFC 3339), the
    detail's members and, for an update, `attributes`: the new values of the changed ones (absent once erased)."""
    doc = {"event_id": row.event_id, "type": row.type, "customer_id": row.customer_id, "version": row.version,
           "at": row.at.replace(tzinfo=dt.UTC).isoformat().replace("+00:00", "Z"), **json.loads(row.detail)}
    if row.attributes is not None:
        values = json.loads(row.attributes)
        doc["attributes"] = {name: values.get(name) for name in doc.get("changed", [])}
    return doc
