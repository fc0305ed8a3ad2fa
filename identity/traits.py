"""Traits and segments per customer, computed in the warehouse from every silo's interactions.

Counts and sums come from `interactions` joined to `record_customer`: lifetime_value (sum of
amounts), order_count ('orders'), invoice_count ('invoices'), ticket_count ('tickets'),
first_seen, last_seen, tickets_90d and complaints_90d (tickets whose `category` attribute
contains 'complaint').

"Now" is a reference time, by default the latest interaction in the data, so the traits of a
demo or of a replayed history do not drift with the wall clock; pass `now` to pin another.
The 90-day counts cover (now - 90 days, now].

Segments:
- recency, frequency (orders + invoices) and monetary (lifetime_value) tiers: `high` when the
  customer's percent_rank among all customers is >= 0.8 (the top 20%), `mid` when >= 0.5 (the
  next 30%), else `low`. Equal values get equal tiers (a tie never straddles two tiers), and a
  customer without interactions is `low` on all three.
- loyalty crosses value with relationship length: valuable = monetary tier high or mid; long =
  last_seen - first_seen above the median of customers with interactions. Classes:
  long_valuable, short_valuable, long_low_value, short_low_value.
- churn_risk: the customer's last complaint falls within the last 90 days of their own activity
  and no order or invoice came after it; or 3 or more complaints in the 90 days before now.

Every customer gets a row; zeros (and NULL first/last seen) when they have no interactions.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb

from cdp.schema import CUSTOMERS, INTERACTIONS, RECORD_CUSTOMER, TRAITS, TRAITS_TABLE
from cdp.warehouse import table_exists
from identity.incremental import clear_pending, is_full, mark_all_dirty, mark_dirty

COMPLAINT = "i.name = 'tickets' and lower(i.attributes->>'category') like '%complaint%'"
"""SQL: the interaction `i` is a complaint."""
WINDOW = "interval 90 day"
CHURN_COMPLAINTS = 3
"""Complaints within the 90 days before now that mark a customer at risk on their own."""
NO_INTERACTIONS = ("(select NULL::VARCHAR as record_id, NULL::VARCHAR as name, NULL::TIMESTAMP as \"at\", "
                   "NULL::DOUBLE as amount, NULL::JSON as attributes where false)")
"""SQL: stands in for `interactions` in a warehouse that has none (identity materialised without ingestion)."""


def build_traits(con: duckdb.DuckDBPyConnection, now: dt.datetime | None = None) -> dict[str, Any]:
    """Write `traits` (one row per customer) and return counts for asset metadata."""
    events = INTERACTIONS if table_exists(con, INTERACTIONS) else NO_INTERACTIONS
    as_of = now or con.execute(f'select max("at") from {events}').fetchall()[0][0]
    con.execute(f"""create or replace table {TRAITS_TABLE} as
        with activity as ({_activity(events)}),
        totals as ({_totals()}),
        ranked as ({_ranked()}),
        segmented as ({_segmented()})
        select customer_id, {", ".join(TRAITS)} from segmented
        order by length(customer_id), customer_id""", {"now": as_of})
    rows = con.execute(f"""select count(*), count(last_seen), count(*) filter (where churn_risk)
                           from {TRAITS_TABLE}""").fetchall()
    customers, active, at_risk = map(int, rows[0])
    return {"customers": customers, "with_interactions": active, "churn_risk": at_risk,
            "as_of": as_of.isoformat() if as_of else "no interactions"}


def _activity(events: str) -> str:
    """SQL: per customer with interactions, the counts, sums and times."""
    in_window = f'i."at" > $now::TIMESTAMP - {WINDOW} and i."at" <= $now::TIMESTAMP'
    return f"""
        select rc.customer_id, sum(i.amount) as lifetime_value,
               count(*) filter (where i.name = 'orders') as order_count,
               count(*) filter (where i.name = 'invoices') as invoice_count,
               count(*) filter (where i.name = 'tickets') as ticket_count,
               min(i."at") as first_seen, max(i."at") as last_seen,
               count(*) filter (where i.name = 'tickets' and {in_window}) as tickets_90d,
               count(*) filter (where {COMPLAINT} and {in_window}) as complaints_90d,
               max(i."at") filter (where {COMPLAINT}) as last_complaint,
               max(i."at") filter (where i.name in ('orders', 'invoices')) as last_purchase
        from {events} i join {RECORD_CUSTOMER} rc using (record_id)
        group by rc.customer_id"""


def _totals() -> str:
    """SQL: every customer, zeros where there is no activity, and the churn rule."""
    return f"""
        select c.customer_id, coalesce(a.lifetime_value, 0) as lifetime_value,
               coalesce(a.order_count, 0) as order_count, coalesce(a.invoice_count, 0) as invoice_count,
               coalesce(a.ticket_count, 0) as ticket_count, a.first_seen, a.last_seen,
               coalesce(a.tickets_90d, 0) as tickets_90d, coalesce(a.complaints_90d, 0) as complaints_90d,
               epoch(a.last_seen) - epoch(a.first_seen) as relationship,
               coalesce(a.last_complaint >= a.last_seen - {WINDOW}
                        and (a.last_purchase is null or a.last_purchase <= a.last_complaint)
                        or a.complaints_90d >= {CHURN_COMPLAINTS}, false) as churn_risk
        from {CUSTOMERS} c left join activity a using (customer_id)"""


def _ranked() -> str:
    """SQL: each customer's percent rank by recency, frequency and value, and the median relationship."""
    return """
        select *, percent_rank() over (order by last_seen nulls first) as recency_rank,
               percent_rank() over (order by order_count + invoice_count) as frequency_rank,
               percent_rank() over (order by lifetime_value) as monetary_rank,
               median(relationship) over () as median_relationship
        from totals"""


def _segmented() -> str:
    """SQL: the ranked customers with their tiers and loyalty class."""
    return f"""
        select *, {_tier('recency_rank')} as recency_tier, {_tier('frequency_rank')} as frequency_tier,
               {_tier('monetary_rank')} as monetary_tier,
               if(relationship > median_relationship, 'long', 'short')
                   || if(monetary_rank >= 0.5, '_valuable', '_low_value') as loyalty
        from ranked"""


def _tier(rank: str) -> str:
    """SQL: high for the top 20% by percent rank, mid for the next 30%, low for the rest."""
    return f"case when {rank} >= 0.8 then 'high' when {rank} >= 0.5 then 'mid' else 'low' end"


def traits_changed(con: duckdb.DuckDBPyConnection, now: dt.datetime | None = None) -> dict[str, Any]:
    """`build_traits` (a full recompute: tiers are relative to all customers), marking dirty the customers whose
    row changed; then the identity run is through, and nothing is pending any more."""
    full = is_full(con) or not table_exists(con, TRAITS_TABLE)
    if not full:
        con.execute(f"create or replace temp table _traits_before as select * from {TRAITS_TABLE}")
    stats = build_traits(con, now)
    if not full:
        # lifetime_value is a sum of doubles, whose last bits follow the order DuckDB added them in
        rounded = "select customer_id, round(lifetime_value, 6), * exclude (customer_id, lifetime_value) from"
        mark_dirty(con, f"select customer_id from ({rounded} {TRAITS_TABLE} except {rounded} _traits_before)")
        con.execute("drop table _traits_before")
    else:  # every customer's traits are new (a full run has marked them all already)
        mark_all_dirty(con)
    clear_pending(con)
    return stats | {"mode": "full" if full else "incremental"}
