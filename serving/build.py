"""The serving tables as DuckDB queries over the warehouse: set-based, JSON built in SQL.

Each query selects the columns of one table of serving/tables.py, in its column order, so
a store can stream the result straight into the table's shadow copy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import duckdb
from sqlalchemy import Table

from cdp.schema import (
    ATTRIBUTES,
    CROSSWALK,
    CUSTOMERS,
    GOLDEN,
    ID_REDIRECTS,
    INTERACTIONS,
    LINEAGE,
    MATCH_PAIRS,
    PROFILE_ATTRIBUTES,
    RECORD_CUSTOMER,
    REVIEW_CANDIDATES,
    STAGED,
    TRAIT_COLUMNS,
    TRAITS_TABLE,
)
from cdp.sealing import SEARCH_MACRO
from cdp.warehouse import table_exists
from identity.model import INPUT_SQL
from serving import tables

ISO_SECOND = "'%Y-%m-%dT%H:%M:%S'"
"""strftime format of the trait times (ISO 8601, as the API answers them)."""


def _attribute(attr: str) -> str:
    """SQL: one `'name', value` pair of the golden attributes object."""
    return f"'{attr}', " + (f"strftime(g.{attr}, '%Y-%m-%d')" if attr == "birth_date" else f"g.{attr}")


def _trait(name: str, kind: str) -> str:
    return f"strftime(t.{name}, {ISO_SECOND}) as {name}" if kind == "TIMESTAMP" else f"t.{name}"


SENT = "'{' || concat_ws(',', " + ", ".join(f"'\"{a}\":' || to_json(s.{a}_raw)" for a in ATTRIBUTES) + ") || '}'"
"""SQL: a staged record `s`'s mapped values as the source sent them, a JSON object without the empty ones
(concat_ws skips the NULL members, as in the lineage object)."""


def only(table: str, dirty: str | None, where: str = "customer_id in {ids}") -> str:
    """SQL: `table`, or with `dirty` (a warehouse table of customer ids) a subquery of its rows `where` says are
    theirs ({ids} stands for the listed ids). Each query below reads its per-customer rows through this, so the
    rows of a partial publish are those of a full one, of fewer customers."""
    if dirty is None:
        return table
    return f"(select * from {table} where {where.format(ids=f'(select customer_id from {dirty})')})"


def within(relation: str, part: str | None) -> str:
    """SQL: `relation`, or with `part` (a condition on customer_id: one slice of a full publish) its rows of those
    customers."""
    return relation if part is None else f"(select * from {relation} where {part})"


@dataclass(frozen=True)
class Lists:
    """The query of a table of per-customer lists (a profile's sources and lineage, a timeline's events), which
    DuckDB builds in memory and cannot spill (ordered aggregates): the publish first writes each of `inputs` into a
    temporary table sorted by customer id, then reads `rows(part)` once per slice of customers, so that DuckDB holds
    one slice's lists at a time, and a slice reads only its own customers' row groups of the inputs."""

    inputs: dict[str, str]
    """Temporary table name: SQL of the rows the lists are made of, each with its customer_id."""
    rows: Callable[[str | None], str]
    """SQL of the table's rows of the customers a condition on customer_id picks (None: all), from `inputs`."""


SOURCES, LINEAGE_MEMBERS, EVENTS = "_publish_sources", "_publish_lineage", "_publish_events"
"""The temporary tables of Lists.inputs."""


def profile_sources_sql(dirty: str | None = None) -> str:
    """SQL: each staged record's member of its customer's `sources` array (JSON: source, source_id, the values as
    sent), with what orders it there."""
    return f"""select rc.customer_id, s.source, s.source_id,
                      json_object('source', s.source, 'source_id', s.source_id, 'values', ({SENT})::JSON) as member
               from {only(RECORD_CUSTOMER, dirty)} rc join {STAGED} s using (record_id)"""


def lineage_members_sql(dirty: str | None = None) -> str:
    """SQL: each golden value's member `"attr":[source, source_id, rule, display]` of its customer's lineage object."""
    member = "to_json(attribute) || ':' || json_array(source, source_id, rule, display)"
    return f"select customer_id, attribute, {member} as member from {only(LINEAGE, dirty)}"


def _lineage(attr: str) -> str:
    """SQL: the lineage object's member of `attr`, NULL when no record gave a value."""
    return f"any_value(member) filter (where attribute = '{attr}')"


def profiles_sql(dirty: str | None = None, part: str | None = None) -> str:
    """SQL: profiles, from the inputs of `profiles_lists`. The lineage object is one member per attribute in profile
    order, joined with concat_ws (which skips NULLs): a pivot, twice as fast as an ordered aggregate. Ordered arrays
    are joined from an ordered list(), which DuckDB builds faster than an ordered string_agg."""
    return f"""
        with lin as (
            select customer_id, '{{' || concat_ws(',', {", ".join(map(_lineage, PROFILE_ATTRIBUTES))}) || '}}'
                   as lineage
            from {within(LINEAGE_MEMBERS, part)} group by customer_id),
        src as (
            select customer_id, '[' || array_to_string(list(member order by source, source_id), ',') || ']' as sources
            from {within(SOURCES, part)} group by customer_id)
        select g.customer_id, json_object({", ".join(map(_attribute, PROFILE_ATTRIBUTES))})::VARCHAR as attributes,
               coalesce(lin.lineage, '{{}}') as lineage, coalesce(src.sources, '[]') as sources,
               {", ".join(_trait(name, kind) for name, kind in TRAIT_COLUMNS)}
        from {within(only(GOLDEN, dirty), part)} g left join {within(only(TRAITS_TABLE, dirty), part)} t
        using (customer_id) left join lin using (customer_id) left join src using (customer_id)
        order by g.customer_id"""


def profiles_lists(dirty: str | None = None) -> Lists:
    """profiles as Lists: the records' sources members and the lineage members as inputs."""
    return Lists({SOURCES: profile_sources_sql(dirty), LINEAGE_MEMBERS: lineage_members_sql(dirty)},
                 lambda part: profiles_sql(dirty, part))


def search_keys_sql(hashed: frozenset[str] = frozenset(), dirty: str | None = None) -> str:
    """SQL: every staged record's standardised email, phone and name key (tables.name_key), the kinds in
    `hashed` as keyed hashes (macro cdp.sealing.SEARCH_MACRO); hashed names add `last_name` keys of the surname,
    which a hash cannot find as a range of name keys."""
    surnames = "name" in hashed
    kinds = ("email", "phone", "name", *(("last_name",) if surnames else ()))
    hash_kinds = hashed | ({"last_name"} if surnames else set())
    value = (f"case when kind in ({', '.join(map(repr, sorted(hash_kinds)))}) then {SEARCH_MACRO}(kind, value) "
             "else value end" if hash_kinds else "value")
    return f"""
    with keys as (select distinct kind, value, customer_id from (
        unpivot (select rc.customer_id, s.email, s.phone,
                        s.last_name || '{tables.NAME_SEPARATOR}' || coalesce(s.first_name_root, '') as name
                        {", s.last_name" if surnames else ""}
                 from {STAGED} s join {only(RECORD_CUSTOMER, dirty)} rc using (record_id))
        on {', '.join(kinds)} into name kind value value)),
    stored as (select kind, {value} as value, customer_id from keys)
    select kind, value, customer_id from stored order by kind, value, customer_id"""


def match_records_sql(dirty: str | None = None) -> str:
    """SQL: tables.match_records, every record in the model's input form with its customer."""
    columns = ", ".join(f"m.{c}::VARCHAR as {c}" for c in tables.MATCH_COLUMNS)  # named: sealing goes by name
    return f"""select m.unique_id as record_id, rc.customer_id, {columns}
               from ({INPUT_SQL.format(table=STAGED)}) m join {only(RECORD_CUSTOMER, dirty)} rc
               on rc.record_id = m.unique_id
               order by m.unique_id"""


def source_records_sql(dirty: str | None = None) -> str:
    return f"select source, source_id, customer_id from {only(CROSSWALK, dirty)} order by source, source_id"


REDIRECTED = "from_id in {ids} or to_id in {ids}"
"""The redirects of some customers: from them, or to them."""


def redirects_sql(dirty: str | None = None) -> str:
    """SQL: merged-away ids to their survivors (identity keeps to_id live; the filter makes sure of it)."""
    return f"""select from_id, to_id from {only(ID_REDIRECTS, dirty, REDIRECTED)}
               where to_id in (select customer_id from {CUSTOMERS}) order by from_id"""


def events_sql(dirty: str | None = None) -> str:
    """SQL: every silo's events of a known record, with its customer (an event of an unknown record has none)."""
    return f"""
    select rc.customer_id, i."at", i.source, i.name, i.interaction_id, i.amount, i.attributes
    from {INTERACTIONS} i join {only(RECORD_CUSTOMER, dirty)} rc using (record_id)"""


def timeline_sql(events: str) -> str:
    """SQL: the timeline rows of `events`, a relation of (customer_id, at, source, name, interaction_id,
    amount, attributes JSON), in the order tables.EVENT_FIELDS describes.

    One ordered list of serialised events per customer, sliced into chunks; a chunk's last_* columns are
    read back from its last event.
    """
    size = tables.TIMELINE_CHUNK
    last = ", ".join(f"chunk[-1]->>'$[{i}]' as last_{key}" for i, key in enumerate(("source", "name", "interaction_id"),
                                                                                  start=1))
    return f"""
        with listed as (
            select customer_id,
                   list(json_array(replace("at"::VARCHAR, ' ', 'T'), source, name, interaction_id, amount,
                                   coalesce(attributes::JSON, '{{}}'::JSON))::VARCHAR
                        order by "at" desc nulls last, source desc, name desc, interaction_id desc) as events
            from {events} group by customer_id),
        chunked as (
            select customer_id, position, events[position + 1:position + {size}] as chunk
            from (select customer_id, unnest(range(0, len(events), {size})) as position, events from listed))
        select customer_id, position, coalesce(chunk[-1]->>'$[0]', '') as last_at, {last},
               '[' || array_to_string(chunk, ',') || ']' as events
        from chunked order by customer_id, position"""


NO_EVENTS = """select NULL::VARCHAR as customer_id, NULL::TIMESTAMP as "at", NULL::VARCHAR as source,
    NULL::VARCHAR as name, NULL::VARCHAR as interaction_id, NULL::DOUBLE as amount, NULL::JSON as attributes
    where false"""
"""Stands in for events_sql in a warehouse without interactions (identity materialised without ingestion)."""


def _record(alias: str) -> str:
    """SQL: a staged record as the JSON text a steward compares: source, source_id, standardised values."""
    values = ", ".join(f"'{a}', " + (f"strftime({alias}.{a}, '%Y-%m-%d')" if a == "birth_date" else f"{alias}.{a}")
                       for a in PROFILE_ATTRIBUTES)
    return f"json_object('source', {alias}.source, 'source_id', {alias}.source_id, {values})::VARCHAR"


REVIEW_SQL = f"""
    select c.candidate_id, c.record_id_l, c.record_id_r, c.match_probability, c.status,
           {_record("l")} as left_record, {_record("r")} as right_record,
           coalesce(c.explanation::VARCHAR, '[]') as explanation
    from {REVIEW_CANDIDATES} c
    join {STAGED} l on l.record_id = c.record_id_l join {STAGED} r on r.record_id = c.record_id_r
    order by c.candidate_id"""
"""The review queue with both records' values; a pair whose record left the sources is dropped."""
NO_REVIEW = """select NULL::VARCHAR as candidate_id, NULL::VARCHAR as record_id_l, NULL::VARCHAR as record_id_r,
    NULL::DOUBLE as match_probability, NULL::VARCHAR as status, NULL::VARCHAR as left_record,
    NULL::VARCHAR as right_record, NULL::VARCHAR as explanation where false"""
"""Stands in for REVIEW_SQL in a warehouse that was never matched (identity built from given clusters)."""


def links_sql(dirty: str | None = None) -> str:
    """SQL: each record's strongest scored link inside its customer (tables.customer_links): both ends of a link
    may pick it, hence the distinct."""
    customers = only(RECORD_CUSTOMER, dirty)  # both ends of a link inside a customer are that customer's
    return f"""
    with inside as (
        select l.customer_id, p.record_id_l, p.record_id_r, p.match_probability, p.explanation
        from {MATCH_PAIRS} p join {customers} l on l.record_id = p.record_id_l
        join {customers} r on r.record_id = p.record_id_r
        where l.customer_id = r.customer_id),
    ends as (select record_id_l as record_id, * from inside union all select record_id_r as record_id, * from inside),
    strongest as (
        select * exclude (record_id) from ends
        qualify row_number() over (partition by record_id
                                   order by match_probability desc, record_id_l, record_id_r) = 1)
    select distinct customer_id, record_id_l, record_id_r, match_probability,
           coalesce(explanation::VARCHAR, '[]') as explanation
    from strongest order by customer_id, record_id_l, record_id_r"""


NO_LINKS = """select NULL::VARCHAR as customer_id, NULL::VARCHAR as record_id_l, NULL::VARCHAR as record_id_r,
    NULL::DOUBLE as match_probability, NULL::VARCHAR as explanation where false"""
"""Stands in for links_sql in a warehouse that was never matched."""


def queries(con: duckdb.DuckDBPyConnection, hashed: frozenset[str] = frozenset(),
            dirty: str | None = None) -> dict[Table, str | Lists]:
    """Per serving table, the query that fills it (the search key kinds in `hashed` as keyed hashes); quick ones
    first, so that a store starts writing at once while the warehouse computes the heavier ones. The tables of
    per-customer lists (profiles, timeline) come as Lists; customer_links is one query, as its window, distinct
    and sort spill to disk (at 1M records it ran whole within a 300 MB memory limit).

    With `dirty`, a warehouse table of customer ids, the rows of those customers only (and their redirects); the
    review queue, keyed by record pairs, is whole either way.
    """
    events = events_sql(dirty) if table_exists(con, INTERACTIONS) else NO_EVENTS
    review = REVIEW_SQL if table_exists(con, REVIEW_CANDIDATES) else NO_REVIEW
    links = links_sql(dirty) if table_exists(con, MATCH_PAIRS) else NO_LINKS
    return {tables.source_records: source_records_sql(dirty), tables.redirects: redirects_sql(dirty),
            tables.search_keys: search_keys_sql(hashed, dirty), tables.profiles: profiles_lists(dirty),
            tables.timeline: Lists({EVENTS: events}, lambda part: timeline_sql(within(EVENTS, part))),
            tables.review_candidates: review, tables.customer_links: links,
            tables.match_records: match_records_sql(dirty)}
