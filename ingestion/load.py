"""Raw load: land a feed, keep its publishable rows in raw_<feed>, quarantine the rest, log the load.

A feed is a source's records or one of its interaction feeds; its name (`sales`, `sales__orders`)
names the raw table and is the `source` in quarantine and load_log. A row is not published, but
quarantined with its reason, when it could not be read, its key is blank (or, for interactions, its
record key), its record was erased (ingestion.suppress: quarantined without its values), or an earlier
row of the feed has the same key: the first occurrence is kept. `_row_hash` (md5 of the row's
values) lets a load count, against the rows it replaces, the keys that are new, changed and vanished.

How much a load does (its `mode`):
- full: every row read, the raw table rebuilt (a full run, the first load, a changed setting or column);
- diff: every row read, only the new and changed rows written and the vanished ones deleted, so the
  table ends up as `full` would leave it and staging redoes only those (a changed file, a SQL source);
- past: only the rows past the `watermark:` column's last high-water mark read and upserted by key
  (a SQL source with a watermark; rows deleted in the source are only seen by a full run);
- appended: the files only gained lines at the end of the last one, or new files after it (ingestion.state
  `appended`): only those read, classified against the table's keys and added, so the table and its
  quarantine end up as `diff` would leave them (a log-like export, daily drops);
- skipped: the files are the ones the last load read (ingestion.state), nothing read or written.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass

import duckdb

from cdp.config import ConfigError, InteractionConfig, Location, SourceConfig
from cdp.schema import ERASED, LOAD_LOG, QUARANTINE, RAW_META, SUPPRESSIONS, ensure_tables, feed_name, raw_table
from cdp.warehouse import table_exists
from ingestion.connectors import Connector, SqlConnector, connector_for, describe_missing
from ingestion.connectors.files import FileConnector
from ingestion.duck import columns_of, count, drop, ident, literal
from ingestion.state import (
    FILE_RECORDS,
    FINGERPRINT,
    LOADED_WITH,
    ROWS,
    SUPPRESSED,
    WATERMARK,
    Appended,
    appended,
    decode_mark,
    digest,
    encode_mark,
    file_stats,
    fingerprint,
    read_state,
    same_files,
    write_state,
)
from ingestion.suppress import erased_sql, prepare

LANDING = "_cdp_landing"
CLASSIFIED = "_cdp_classified"
DIFFERENCES = "_cdp_differences"
FULL, DIFF, PAST, APPENDED, SKIPPED = "full", "diff", "past", "appended", "skipped"


@dataclass(frozen=True)
class Feed:
    """One thing to load: a source's records, or one of its interaction feeds."""

    name: str
    """`<source>` or `<source>__<interaction>` (cdp.schema.feed_name): the raw table's suffix and the `source`
    in bookkeeping."""
    location: Location
    key: str
    """Column holding the row's key: unique and never blank in what is published."""
    columns: dict[str, str]
    """Every column the config maps, by the config key naming it (sources.sales.fields.email: email)."""
    source: str
    """The source whose records the rows are, or belong to."""
    record_key: str
    """Column holding the key of the source record a row is (`key`) or belongs to (an interaction's)."""
    required: tuple[str, ...] = ()
    """Further columns that must not be blank (an interaction's record key)."""
    watermark: str | None = None
    """SQL only: the column whose high-water mark an incremental load reads past."""

    @property
    def table(self) -> str:
        return raw_table(self.name)


@dataclass(frozen=True)
class LoadStats:
    """One load_log row (rows_in = rows_published + rows_quarantined), and how the load went."""

    source: str
    batch_id: str
    rows_in: int
    rows_published: int
    rows_quarantined: int
    rows_new: int
    rows_changed: int
    rows_vanished: int
    loaded_at: dt.datetime
    rows_unchanged: int = 0
    """Published rows the load found as they were (not in load_log)."""
    mode: str = FULL
    """full, diff, past, appended or skipped (module docstring; not in load_log)."""

    def log_row(self) -> list[object]:
        return [self.source, self.batch_id, self.rows_in, self.rows_published, self.rows_quarantined, self.rows_new,
                self.rows_changed, self.rows_vanished, self.loaded_at]


def feeds_of(source: str, src: SourceConfig) -> list[Feed]:
    """The source's records feed, then one feed per interaction."""
    where = f"sources.{source}"
    columns = {f"{where}.key": src.key} | {f"{where}.fields.{a}": c for a, c in src.fields.items()}
    columns |= {f"{where}.updated_at": src.updated_at} if src.updated_at else {}
    columns |= {f"{where}.watermark": src.watermark} if src.watermark else {}
    return [Feed(source, src.location, src.key, columns, source, src.key, watermark=src.watermark),
            *(_interaction_feed(source, event) for event in src.interactions)]


def _interaction_feed(source: str, event: InteractionConfig) -> Feed:
    where = f"sources.{source}.interactions.{event.name}"
    columns = {f"{where}.key": event.key, f"{where}.record_key": event.record_key, f"{where}.at": event.at}
    columns |= {f"{where}.amount": event.amount} if event.amount else {}
    columns |= {f"{where}.attributes.{c}": c for c in event.attributes}
    columns |= {f"{where}.watermark": event.watermark} if event.watermark else {}
    return Feed(feed_name(source, event.name), event.location, event.key, columns, source, event.record_key,
                (event.record_key,), event.watermark)


def new_batch_id(source: str) -> str:
    """Id of one load of a source: readable time plus a random suffix."""
    return f"{source}-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"


def load_source(con: duckdb.DuckDBPyConnection, source: str, src: SourceConfig,
                data_key: bytes | None = None, full: bool = True) -> list[LoadStats]:
    """Load the source's records and interaction feeds under one batch id; return one LoadStats per feed.

    `data_key` (cdp.datakey) hashes record keys against the suppression list; it is needed once the
    warehouse lists an erased record. Without `full`, each feed does only what changed (module docstring).
    """
    ensure_tables(con, QUARANTINE, LOAD_LOG)
    suppress = prepare(con, data_key)
    listed = str(con.execute(f'select count(*), max("at") from {SUPPRESSIONS}').fetchall()[0])
    batch = new_batch_id(source)
    loaded_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    return [load_feed(con, feed, batch, loaded_at, suppress, full, listed) for feed in feeds_of(source, src)]


def load_feed(con: duckdb.DuckDBPyConnection, feed: Feed, batch: str, loaded_at: dt.datetime,
              suppress: bool = False, full: bool = True, listed: str = "") -> LoadStats:
    """Land one feed, write raw_<feed>, quarantine the rest and log the load (with `suppress`, erased
    records too: ingestion.suppress.prepare must have run on `con`). Without `full`, only what changed since
    the last load; `listed` describes the suppression list, whose growth makes unchanged files read again."""
    connector, state = connector_for(feed.location), read_state(con, feed.name)
    settings = digest(feed.location.model_dump(), feed.key, feed.columns, feed.required)
    rebuild = full or state.get(LOADED_WITH) != settings or not table_exists(con, feed.table)
    remember: dict[str, str | None] = {LOADED_WITH: settings, SUPPRESSED: listed}
    tails = None
    if isinstance(connector, FileConnector):
        remember[FINGERPRINT] = fingerprint(connector.paths(), state.get(FINGERPRINT))
        if not rebuild and same_files(remember[FINGERPRINT] or "", state.get(FINGERPRINT)) \
                and state.get(SUPPRESSED) == listed:
            write_state(con, feed.name, remember)  # a touched file's new times: its contents are not hashed again
            rows = count(con, f"select count(*) from {ident(feed.table)}")
            return LoadStats(feed.name, batch, 0, 0, 0, 0, 0, 0, loaded_at, rows, SKIPPED)
        if not rebuild and state.get(SUPPRESSED) == listed:
            tails = appended(remember[FINGERPRINT] or "", state.get(FINGERPRINT), state.get(FILE_RECORDS),
                             connector.tail_readable)
    # After an erasure every row is read again, so the erased record's rows show in quarantine as erased.
    mark = state.get(WATERMARK) if feed.watermark and not rebuild and state.get(SUPPRESSED) == listed else None
    mode = FULL if rebuild else PAST if mark else APPENDED if tails else DIFF
    columns = _land(con, feed, connector, mark, tails)
    if mode == APPENDED:
        mode, columns = _fit_tails(con, feed, columns)
    if mode != FULL and columns_of(con, feed.table) != [*columns, *RAW_META]:  # the source's columns changed
        mode, columns = FULL, _land(con, feed, connector, None)
    con.execute(_classify_sql(feed, columns, suppress, _first_rows(feed) if mode == APPENDED else None))
    stats = _stats(con, feed, batch, loaded_at, mode)
    tails = tails if mode == APPENDED else None
    con.execute("begin")  # the table, its quarantine, its log row and its state change together or not at all
    try:
        _write(con, feed, columns, batch, loaded_at, mode)
        _quarantine(con, feed, batch, loaded_at, mode)
        con.execute(f"insert into {LOAD_LOG} values (?, ?, ?, ?, ?, ?, ?, ?, ?)", stats.log_row())
        write_state(con, feed.name, remember | _marks(con, feed, connector, mark, tails, remember.get(FINGERPRINT)))
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")
    drop(con, LANDING, CLASSIFIED, DIFFERENCES)
    return stats


def _land(con: duckdb.DuckDBPyConnection, feed: Feed, connector: Connector, mark: str | None,
          tails: Appended | None = None) -> list[str]:
    """Land the feed (a watermarked SQL feed: only the rows past `mark`, if given; files that were only
    appended to: only `tails`); return its columns."""
    drop(con, LANDING, CLASSIFIED, DIFFERENCES)
    if isinstance(connector, FileConnector) and tails:
        return connector.land_tails(con, LANDING, tails.reads, tails.rows_before)  # checked against the table
    if isinstance(connector, SqlConnector) and feed.watermark:
        connector.past(feed.watermark, decode_mark(mark) if mark else None)
    columns = connector.land(con, LANDING)
    problems = describe_missing(feed.columns, columns, connector.label)
    if problems:
        raise ConfigError("; ".join(problems))
    return columns


def _fit_tails(con: duckdb.DuckDBPyConnection, feed: Feed, columns: list[str]) -> tuple[str, list[str]]:
    """Give the landed tails the raw table's source columns, in its order, those they lack NULL (a JSON Lines
    tail need not hold every key): the mode and columns to go on with, DIFF when a tail has a column the
    table lacks (the column check then loads in full, as a full load would add the column)."""
    have = [c for c in columns_of(con, feed.table) if c not in RAW_META]
    if not set(columns) <= set(have):
        return DIFF, columns
    select = ", ".join(ident(c) if c in columns else f"NULL::VARCHAR as {ident(c)}" for c in have)
    con.execute(f"create or replace temp table {LANDING} as select _row_number, _error, _line, {select} from {LANDING}")
    return APPENDED, have


def _marks(con: duckdb.DuckDBPyConnection, feed: Feed, connector: Connector, mark: str | None,
           tails: Appended | None = None, files: str | None = None) -> dict[str, str | None]:
    """The state a load leaves: the raw table's rows, a watermarked feed's new high-water mark, and the records
    each of a file feed's files held (forgotten when a file changed while it was read)."""
    marks: dict[str, str | None] = {ROWS: str(count(con, f"select count(*) from {ident(feed.table)}"))}
    if isinstance(connector, SqlConnector) and feed.watermark:
        high = connector.high_water
        marks[WATERMARK] = encode_mark(high) if high is not None else mark
    if isinstance(connector, FileConnector) and files:
        stats = json.loads(files)["files"]
        records = tails.records_after(connector.landed) if tails else connector.landed
        steady = len(records) == len(stats) and file_stats([path for path, _, _ in stats]) == stats
        marks[FILE_RECORDS] = json.dumps(records) if steady else None
    return marks


def _first_rows(feed: Feed) -> str:
    """SQL: per key, the first complete row the files held before the tails: the published one, or an erased one
    before it (both are what an earlier row with the key is compared with in a full load)."""
    return f"""(select _key, min(_row_number) as _first from (
                    select _key, _row_number from {ident(feed.table)}
                    union all
                    select source_id, row_number from {QUARANTINE}
                    where source = {literal(feed.name)} and reason = {literal(ERASED)})
                group by _key)"""


def _classify_sql(feed: Feed, columns: list[str], suppress: bool, earlier: str | None = None) -> str:
    """Every landed row with its trimmed key, values as JSON, row hash, and why it is not published.

    `earlier` (SQL: _key, _first) names the first complete row of each key among rows read before these,
    which a complete row with the key duplicates."""
    first = "min(x._row_number) over (partition by x._key, x._complete)"
    kept = f"coalesce(e._first, {first})" if earlier else first
    joined = f"left join {earlier} e on x._key = e._key" if earlier else ""
    raw = "json_object(" + ", ".join(f"{literal(c)}, {ident(c)}" for c in columns) + ")"
    blanks = [f"when nullif(trim({ident(c)}), '') is null then {literal(f'blank record key (column {c})')}"
              for c in feed.required]
    complete = " and ".join(["_error is null", "_key is not null",
                             *(f"nullif(trim({ident(c)}), '') is not null" for c in feed.required)])
    return f"""
        create temp table {CLASSIFIED} as
        select *, case
                when _error is not null then _error
                when _key is null then {literal(f"blank key (column {feed.key})")}
                {' '.join(blanks)}
                when _erased then {literal(ERASED)}
                when _kept <> _row_number then
                    'duplicate key: row ' || _kept || {literal(f" has the same {feed.key} and is kept")}
            end as _reason
        from (
            select x.*, {kept} as _kept
            from (
                select *, {complete} as _complete, md5(_raw::VARCHAR) as _row_hash,
                       {erased_sql(feed.source, feed.record_key) if suppress else 'false'} as _erased
                from (select *, nullif(trim({ident(feed.key)}), '') as _key, {raw} as _raw from {LANDING})) x
            {joined})"""


def _stats(con: duckdb.DuckDBPyConnection, feed: Feed, batch: str, loaded_at: dt.datetime, mode: str) -> LoadStats:
    rows_in, published, quarantined = con.execute(f"""
        select count(*), count(*) filter (where _reason is null), count(*) filter (where _reason is not null)
        from {CLASSIFIED}""").fetchall()[0]
    if mode == APPENDED:  # every published row is new: its key is in no earlier row
        before = count(con, f"select count(*) from {ident(feed.table)}")
        return LoadStats(feed.name, batch, rows_in, published, quarantined, published, 0, 0, loaded_at, before, mode)
    new, changed, vanished = _changes(con, feed, mode)
    return LoadStats(feed.name, batch, rows_in, published, quarantined, new, changed, vanished, loaded_at,
                     published - new - changed, mode)


def _changes(con: duckdb.DuckDBPyConnection, feed: Feed, mode: str) -> tuple[int, int, int]:
    """Fill DIFFERENCES: per key, its hash and row number in this load and in the raw table (a `past` load
    only the keys it read); count the keys new, changed and vanished."""
    published = f"(select _key, _row_hash, _row_number from {CLASSIFIED} where _reason is null)"
    old = ident(feed.table) if table_exists(con, feed.table) else f"(select * from {published} where false)"
    con.execute(f"""
        create or replace temp table {DIFFERENCES} as
        select coalesce(n._key, o._key) as key, n._row_hash as new_hash, o._row_hash as old_hash,
               n._row_number as new_number, o._row_number as old_number
        from {published} n {'left' if mode == PAST else 'full'} join {old} o on n._key = o._key""")
    return con.execute(f"""
        select count(*) filter (where old_hash is null), count(*) filter (where new_hash <> old_hash),
               count(*) filter (where new_hash is null)
        from {DIFFERENCES}""").fetchall()[0]


def _write(con: duckdb.DuckDBPyConnection, feed: Feed, columns: list[str], batch: str, loaded_at: dt.datetime,
           mode: str) -> None:
    """Rebuild the raw table (`full`), or delete its changed and vanished rows and insert the new and changed.

    After a `diff` the table holds what `full` would have written (row numbers included), except that the
    rows found unchanged keep the batch and time of the load that wrote them. A `past` load numbers its rows
    after the table's. An `appended` load inserts its published rows, already numbered after the old ones.
    """
    table, cols = ident(feed.table), ", ".join(ident(c) for c in columns)
    if mode == FULL:
        con.execute(f"""
            create or replace table {table} as
            select {cols}, ?::VARCHAR as _source, _key, ?::VARCHAR as _batch, _row_number, _row_hash,
                   ?::TIMESTAMP as _loaded_at
            from {CLASSIFIED} where _reason is null""", [feed.name, batch, loaded_at])
        return
    changed = f"_key in (select key from {DIFFERENCES} where new_hash is distinct from old_hash)"
    if mode != APPENDED:
        con.execute(f"delete from {table} where _key in (select key from {DIFFERENCES} "
                    "where old_hash is not null and new_hash is distinct from old_hash)")
    offset = count(con, f"select coalesce(max(_row_number), 0) from {table}") if mode == PAST else 0
    con.execute(f"""
        insert into {table} by name
        select {cols}, ?::VARCHAR as _source, _key, ?::VARCHAR as _batch, _row_number + ? as _row_number, _row_hash,
               ?::TIMESTAMP as _loaded_at
        from {CLASSIFIED} where _reason is null and {'true' if mode == APPENDED else changed}""",
                [feed.name, batch, offset, loaded_at])
    if mode == DIFF:  # rows before them may have come or gone
        con.execute(f"""update {table} set _row_number = d.new_number
                        from (select key, new_number from {DIFFERENCES}
                              where new_hash = old_hash and new_number <> old_number) d
                        where {table}._key = d.key""")


def _quarantine(con: duckdb.DuckDBPyConnection, feed: Feed, batch: str, loaded_at: dt.datetime,
                mode: str = FULL) -> None:
    """Replace the feed's quarantined rows with this load's (a `past` load: only those with the keys it read; an
    `appended` one adds its rows); an unreadable row keeps its text as `_line`, an erased record's row keeps no
    value."""
    if mode in (FULL, DIFF):
        con.execute(f"delete from {QUARANTINE} where source = ?", [feed.name])
    elif mode == PAST:
        con.execute(f"delete from {QUARANTINE} where source = ? and source_id in (select _key from {CLASSIFIED})",
                    [feed.name])
    con.execute(f"""
        insert into {QUARANTINE}
        select ?, _key, _row_number, ?, _reason,
               case when _erased then NULL when _error is null then _raw else json_object('_line', _line) end, ?
        from {CLASSIFIED} where _reason is not null order by _row_number""", [feed.name, batch, loaded_at])
