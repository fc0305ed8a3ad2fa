"""Golden profiles: per customer and attribute, one value chosen by survivorship, with its lineage.

Every non-null value of a customer's records competes. The attribute's rules, configured in cdp.yaml
under `identity: survivorship:` (default trust, recent, frequent), order the candidates:

- trust: the source's `trust` (higher wins);
- recent: the record's `updated_at` (newer wins; a record without one comes after those with one),
  then its `loaded_at`;
- frequent: how many of the customer's records carry that value.

A value is as good as its best record; a tie on every rule goes to the value whose best record
has the smallest record id, so a run is repeatable. `lineage.rule` names the rule that decided: the first one on
which the winning value beats the runner-up value; `only` when the records agree on one value,
`tiebreak` when no rule separates them.

Address parts survive together: street, city, state and postcode compete as one value (a record's
address as it was sent), under the rules configured for `street`, so a street is never paired with
another record's postcode. The country comes with the winning address when that record has one (a
postcode means nothing without its country); otherwise country survives on its own.

Next to each value, `lineage.display` is the value as people write it, from the winning record: the
source's own spelling when it is the same value ("McDonald", "José" for MCDONALD, JOSE), in title case
when it came in one case (O'BRIEN: "O'Brien"), else the value in title case ("7323 E Chestnut St"); a North
American phone as +1 555-010-0100.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import duckdb

from cdp.config import IdentityConfig
from cdp.schema import CROSSWALK, CUSTOMERS, GOLDEN, LINEAGE, PROFILE_ATTRIBUTES, RECORD_CUSTOMER, STAGED
from cdp.warehouse import table_exists
from identity.incremental import is_full, pending_customers

DEFAULT_RULES = ("trust", "recent", "frequent")
ADDRESS = ("street", "city", "state", "postcode")
ADDRESS_GROUP = "address"
"""Name of the address parts competing as one value in the candidates (never a lineage attribute)."""
SINGLE = tuple(a for a in PROFILE_ATTRIBUTES if a not in ADDRESS)
"""Attributes that survive one by one."""

ORDER = {"trust": "trust desc", "recent": "recency", "frequent": "frequency desc"}
"""SQL order of each rule, the better candidate first."""
RECENCY = "dense_rank() over (order by updated_at desc nulls last, loaded_at desc)"
"""SQL: a record's place by the recent rule (1 = newest); a record without updated_at comes after those with one."""
RULE_COLUMN = {"trust": "trust", "recent": "recency", "frequent": "frequency"}
"""The column each rule compares between the winning and the runner-up value."""


def build_golden(con: duckdb.DuckDBPyConnection, identity: IdentityConfig, changed: str | None = None
                 ) -> dict[str, int]:
    """Write `lineage`, `golden` and the `crosswalk` view from staged records and record_customer.

    With `changed`, SQL selecting customer ids, only those customers' rows are rebuilt (and the rows of
    customers that are gone deleted); a customer's values depend on its own records only, so the rows are
    those a full build gives. Returns counts for asset metadata: customers, lineage rows, and values decided
    by each rule.
    """
    groups = rule_groups(identity)
    con.execute("begin transaction")
    try:
        if changed is not None:
            con.execute(f"create or replace temp table _golden_scope as select distinct customer_id from ({changed})")
        _records(con, list(groups), changed is not None)
        _rank(con, groups)
        _write_lineage(con, changed is not None)
        _write_golden(con, changed is not None)
        con.execute(f"""create or replace view {CROSSWALK} as
            select s.source, s.source_id, rc.customer_id from {RECORD_CUSTOMER} rc join {STAGED} s using (record_id)""")
        con.execute("drop table _golden_records; drop table _golden_winners; drop table if exists _golden_scope")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return _stats(con)


def rule_groups(identity: IdentityConfig) -> dict[tuple[str, ...], list[str]]:
    """Candidate attributes (the address as one) grouped by their rule order: one ranking pass per order."""
    groups: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for attr in (*SINGLE, ADDRESS_GROUP):
        rules = identity.survivorship.get("street" if attr == ADDRESS_GROUP else attr, DEFAULT_RULES)
        groups[tuple(rules)].append(attr)
    return dict(groups)


def _records(con: duckdb.DuckDBPyConnection, orders: list[tuple[str, ...]], scoped: bool) -> None:
    """_golden_records: each record's customer, rule keys, candidate values and, per rule order i,
    `position_i`: its place among all records by those rules (frequency aside), then record id.

    A value's best record is then simply its lowest position, an integer aggregate instead of a
    sort of every (customer, attribute, value) group. `scoped`: only the customers in _golden_scope (positions
    and recency ranks then count among their records, which orders them the same).
    """
    scope = "semi join _golden_scope using (customer_id)" if scoped else ""
    singles = ", ".join(f"s.{a}::VARCHAR as {a}" for a in SINGLE)
    address = (f"case when coalesce({', '.join(ADDRESS)}) is not null "
               f"then [{', '.join(ADDRESS)}]::VARCHAR end as {ADDRESS_GROUP}")
    positions = ", ".join(f"row_number() over (order by {_order(rules, 'frequent')}) as position_{i}"
                          for i, rules in enumerate(orders))
    con.execute(f"""create or replace temp table _golden_records as
        select *, {positions} from (
            select rc.customer_id, s.record_id, s.source, s.source_id, s.trust, {RECENCY} as recency,
                   {singles}, {address}
            from {STAGED} s join {RECORD_CUSTOMER} rc using (record_id) {scope})""")


def _order(rules: Iterable[str], leave_out: str = "") -> str:
    """SQL order by the rules, then the record id (the deterministic tie-break)."""
    return ", ".join([*(ORDER[r] for r in rules if r != leave_out), "record_id"])


def _rank(con: duckdb.DuckDBPyConnection, groups: dict[tuple[str, ...], list[str]]) -> None:
    """_golden_winners: per customer and attribute the best value, its best record and the deciding rule.

    Per rule order: each value's frequency and best record (one aggregation), then the values in
    rule order, the winner compared with the runner-up.
    """
    con.execute("""create or replace temp table _golden_winners (customer_id VARCHAR, attribute VARCHAR,
        value VARCHAR, record_id VARCHAR, source VARCHAR, source_id VARCHAR, rule VARCHAR)""")
    for i, (rules, attributes) in enumerate(groups.items()):
        decided = " ".join(f"when {RULE_COLUMN[r]} <> next_{RULE_COLUMN[r]} then '{r}'" for r in rules)
        runner_up = ", ".join(f"lead({c}) over w as next_{c}" for c in ("value", *RULE_COLUMN.values()))
        con.execute(f"""insert into _golden_winners
            select customer_id, attribute, value, record_id, source, source_id,
                   case when next_value is null then 'only' {decided} else 'tiebreak' end
            from (
                select v.*, r.record_id, r.source, r.source_id, r.trust, r.recency,
                       row_number() over w as place, {runner_up}
                from (select customer_id, attribute, value, count(*) as frequency, min(position_{i}) as position_{i}
                      from (unpivot (select customer_id, position_{i}, {', '.join(attributes)} from _golden_records)
                            on {', '.join(attributes)} into name attribute value value)
                      group by all) v
                join _golden_records r using (position_{i})
                window w as (partition by v.customer_id, attribute order by {_order(rules)}))
            where place = 1""")


def _write_lineage(con: duckdb.DuckDBPyConnection, scoped: bool) -> None:
    """lineage: the single winners, the winning address's parts and country, else the country's own winner;
    each with its display form. `scoped`: replace only the rows of _golden_scope's and gone customers."""
    parts = ", ".join((*ADDRESS, "country"))
    raws = " ".join(f"when '{a}' then regexp_replace(trim(s.{a}_raw), '\\s+', ' ', 'g')" for a in SPELLED)
    displays = " ".join(f"when '{a}' then {_display(a)}" for a in SPELLED)
    spelled = ", ".join(f"'{a}'" for a in SPELLED)
    # The display form depends only on the attribute, the value and the spelling sent: worked out once per
    # distinct three (a name's title case is most of the work, and a million records hold a few thousand names).
    con.execute(f"""{_replacing(con, LINEAGE, scoped)}
        with address as (unpivot (
            select w.customer_id, w.record_id, w.source, w.source_id, w.rule,
                   {', '.join(f's.{p}' for p in (*ADDRESS, 'country'))}
            from _golden_winners w join {STAGED} s using (record_id) where w.attribute = '{ADDRESS_GROUP}')
            on {parts} into name attribute value value),
        winners as (
            select customer_id, record_id, attribute, value, source, source_id, rule from address
            union all
            select customer_id, record_id, attribute, value, source, source_id, rule from _golden_winners
            where attribute <> '{ADDRESS_GROUP}' and (attribute <> 'country'
                or customer_id not in (select customer_id from address where attribute = 'country'))),
        sent as (
            select w.*, case w.attribute {raws} end as sent
            from winners w join {STAGED} s using (record_id)),
        shown as (
            select attribute, value, sent, case attribute {displays} end as display
            from (select distinct attribute, value, sent from sent where attribute in ({spelled})))
        select customer_id, sent.attribute, sent.value,
               case when sent.attribute in ({spelled}) then display
                    when sent.attribute = 'phone' then {PHONE_DISPLAY} else sent.value end as display,
               source, source_id, rule
        from sent left join shown on sent.attribute = shown.attribute and sent.value is not distinct from shown.value
            and sent.sent is not distinct from shown.sent""")


SPELLED = ("first_name", "middle_name", "last_name", "city", "street")
"""Attributes whose display form may be the source's own spelling."""
UPPER_WORDS = ("n", "s", "e", "w", "ne", "nw", "se", "sw", "po")
"""Street words kept in capitals: directions and PO (a box)."""


PHONE_DISPLAY = ("case when sent.value like '+1__________' then '+1 ' || sent.value[3:5] || '-' || sent.value[6:8] "
                 "|| '-' || sent.value[9:] else sent.value end")
"""SQL: a North American number's display form (+1 555-123-4567), other numbers as they are."""


def _display(attr: str) -> str:
    """SQL: the display form of lineage value `value` of `attr` (one of SPELLED), given `sent`, the winning
    record's spelling with its spaces made single."""
    sent = "sent"
    same = rf"upper(strip_accents(regexp_replace({sent}, '[''.]', '', 'g'))) = value"
    mixed = f"{sent} <> upper({sent}) and {sent} <> lower({sent})"
    street = attr == "street"
    return (f"case when {same} and {mixed} then {sent} when {same} then {_title(f'upper({sent})', street)} "
            f"else {_title('value', street)} end")


def _title(value: str, street: bool) -> str:
    """SQL: `value` (upper case) in title case, word by word and after hyphens and apostrophes (O'Brien-Lee);
    in a street, directions and PO stay in capitals, and so do words with digits but ordinals (4B, 21st)."""
    def capitalised(word: str) -> str:
        return (f"array_to_string(list_transform(string_split({word}, '-'), lambda p: array_to_string("
                "list_transform(string_split(p, ''''), lambda q: upper(left(q, 1)) || substr(q, 2)), '''')), '-')")

    word = capitalised("x")
    if street:
        upper = ", ".join(f"'{u}'" for u in UPPER_WORDS)
        word = (f"case when x in ({upper}) or (regexp_matches(x, '[0-9]') "
                f"and not regexp_full_match(x, '[0-9]+(st|nd|rd|th)')) then upper(x) else {word} end")
    return f"array_to_string(list_transform(string_split(lower({value}), ' '), lambda x: {word}), ' ')"


def _write_golden(con: duckdb.DuckDBPyConnection, scoped: bool) -> None:
    """golden: one row per customer, the lineage values pivoted to columns (birth_date back to a DATE);
    `scoped`: replace only the rows of _golden_scope's and gone customers."""
    def column(attr: str) -> str:
        value = f"any_value(l.value) filter (where l.attribute = '{attr}')"
        return f"{value}::DATE as {attr}" if attr == "birth_date" else f"{value} as {attr}"

    scope = "semi join _golden_scope using (customer_id)" if scoped else ""
    con.execute(f"""{_replacing(con, GOLDEN, scoped)}
        select c.customer_id, {', '.join(map(column, PROFILE_ATTRIBUTES))}
        from {CUSTOMERS} c {scope} left join {LINEAGE} l using (customer_id)
        group by c.customer_id order by length(c.customer_id), c.customer_id""")


def _replacing(con: duckdb.DuckDBPyConnection, table: str, scoped: bool) -> str:
    """SQL head of the statement writing `table`: a new table, or (scoped) an insert after deleting the rows of
    the customers in _golden_scope and of customers no longer live."""
    if not scoped:
        return f"create or replace table {table} as"
    con.execute(f"""delete from {table} where customer_id in (select customer_id from _golden_scope)
        or customer_id not in (select customer_id from {CUSTOMERS})""")
    return f"insert into {table}"


def _stats(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    customers = con.execute(f"select count(*) from {GOLDEN}").fetchall()[0][0]
    rules = con.execute(f"select 'decided_by_' || rule, count(*) from {LINEAGE} group by all order by 1").fetchall()
    lineage = sum(n for _, n in rules)
    return {"customers": int(customers), "lineage_rows": int(lineage), **{k: int(n) for k, n in rules}}


def golden_changed(con: duckdb.DuckDBPyConnection, identity: IdentityConfig) -> dict[str, int | str]:
    """`build_golden` for the customers of the pending records, or for everyone after a full `match_pairs`."""
    full = is_full(con) or not table_exists(con, GOLDEN) or not table_exists(con, LINEAGE)
    stats: dict[str, int | str] = {**build_golden(con, identity, None if full else pending_customers())}
    return stats | {"mode": "full" if full else "incremental"}
