"""The read side of the serving store: the queries behind the API, in SQLAlchemy Core.

No web framework here: the API turns these answers into responses. Each answer comes from one
SQL statement, so it reads one published version even while a publish swaps in the next.
A profile document is joined as text from the stored JSON parts of its row; only the lineage (to write
its entries out as objects) is parsed, and for a reader without `pii` the parts holding personal values
(masked by an api.mask.Mask). Parts published encrypted (cdp.sealing) are opened with the reader's
Sealer as they are read: three per profile; search keys of personal attributes are looked up by their
keyed hash, as the published version's log row says.

Pages are keyset-paginated: a cursor is an opaque token naming the last row served, so a page
costs the same at any depth and rows published between two pages are neither skipped nor repeated
within one version.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from api.mask import Mask
from cdp.config import sqlite_file
from cdp.schema import CHURN_RISK, LOYALTY_CLASSES, PROFILE_ATTRIBUTES, SEGMENT_LEVELS, SEGMENT_TIERS, SEGMENTS, TRAITS
from cdp.sealing import SealedStore, Sealer, no_key, unseal
from serving.tables import (
    EVENT_FIELDS,
    LINEAGE_FIELDS,
    NAME_SEPARATOR,
    TIMELINE_CHUNK,
    customer_links,
    name_key,
    profiles,
    publish_log,
    redirects,
    search_keys,
    source_records,
    timeline,
)

TIERS, LEVELS, LOYALTY = SEGMENT_TIERS, SEGMENT_LEVELS, LOYALTY_CLASSES
"""The segments (cdp.schema.SEGMENTS) by kind."""
SEARCH_KINDS = ("email", "phone", "name", "last_name")
"""What a search looks up: a full name is a name key (tables.name_key), a last name the range of its keys."""
DOCUMENT = (profiles.c.customer_id, profiles.c.attributes, profiles.c.lineage, profiles.c.sources,
            *(profiles.c[name] for name in TRAITS))
"""The profiles columns a document is made of, in the order `document` takes them."""
TIMELINE_CURSOR = (str, str, str, str)
"""A timeline cursor holds an event's sort key: at ('' when unknown), source, name, interaction_id."""
SEARCH_CURSOR = (str,)
"""A search cursor holds the last customer id served."""

ENGINE_OPTIONS: dict[str, dict[str, Any]] = {
    # psycopg prepares a statement after `prepare_threshold` uses on a connection; 0 prepares the
    # primary-key lookups at their first use.
    "postgresql": {"connect_args": {"prepare_threshold": 0}},
    # A steward's decision is a write: in WAL mode it waits for a running publish to commit (reads never wait).
    "sqlite": {"connect_args": {"timeout": 60}},
}
"""Per-dialect create_engine options."""


class BadQuery(ValueError):
    """A segment or search key the store cannot answer; the message says which."""


class BadCursor(BadQuery):
    """A cursor this API did not give out (a malformed request rather than a value it cannot answer)."""


@dataclass(frozen=True)
class Page:
    """One page of a listing: the items and the cursor of the next page (None on the last)."""

    items: list[Any]
    next_cursor: str | None


@dataclass(frozen=True)
class Lookup:
    """A single-row statement compiled for the store's driver: its SQL and, for a positional
    paramstyle, the order of its parameters (None: the driver takes them by name)."""

    sql: str
    order: tuple[str, ...] | None


@dataclass(frozen=True)
class Version:
    """The published version the store holds."""

    version: int
    published_at: dt.datetime
    customers: int
    records: int
    key_id: str | None = None
    """The data key the version's personal values are encrypted with (cdp.datakey.key_id); None: plain."""
    hashed_search: frozenset[str] = frozenset()
    """The search key kinds stored as keyed hashes."""


def segment_filter(name: str) -> sa.ColumnElement[bool]:
    """The profiles condition of a segment name: `recency:high`, `long_valuable`, `churn_risk`, ..."""
    if name == CHURN_RISK:
        return profiles.c.churn_risk == sa.true()
    if name in LOYALTY:
        return profiles.c.loyalty == name
    tier, _, level = name.partition(":")
    if tier in TIERS and level in LEVELS:
        return profiles.c[f"{tier}_tier"] == level
    raise BadQuery(f"unknown segment {name!r}; known: {', '.join(SEGMENTS)}")


TRAIT_TIMES = ("first_seen", "last_seen")
"""Traits stored as ISO text in UTC without a zone (serving.build), answered in RFC 3339."""


def zoned(text: str | None) -> str | None:
    """ISO time text of UTC with the zone it lacks: 2024-06-15T12:00:00 -> 2024-06-15T12:00:00Z."""
    if text is None or "T" not in text or text.endswith("Z") or text[-6] in "+-":  # a date, or zoned already
        return text
    return text + "Z"


def document(row: Sequence[Any], mask: Mask | None, sealer: Sealer | None = None) -> str:
    """The JSON text of GET /customers/{id} from a row of DOCUMENT; `mask` (None: none) hides the PII values,
    `sealer` opens the parts published encrypted."""
    customer_id, attributes, lineage, sources, *values = row
    # The parts tables.SEALED names for profiles: plain text passes through at the cost of a prefix test.
    attributes = unseal(attributes, sealer, profiles.name, "attributes", customer_id)
    lineage = unseal(lineage, sealer, profiles.name, "lineage", customer_id)
    sources = unseal(sources, sealer, profiles.name, "sources", customer_id)
    entries = json.loads(lineage)
    display: dict[str, Any] = dict.fromkeys(PROFILE_ATTRIBUTES)
    for attr, entry in entries.items():  # a lineage entry published before display forms has three members
        display[attr] = entry[3] if len(entry) > 3 else None
    if mask is not None:
        attributes = _json(mask.attributes(json.loads(attributes)))
        display = mask.attributes(display)
        sources = _json([{**record, "values": mask.attributes(record.get("values", {}))}
                        for record in json.loads(sources)])
    lineage = _json({attr: dict(zip(LINEAGE_FIELDS, entry, strict=False)) for attr, entry in entries.items()})
    traits = dict(zip(TRAITS, values, strict=True))
    if traits["churn_risk"] is not None:  # SQLite hands booleans back as 0 or 1
        traits["churn_risk"] = bool(traits["churn_risk"])
    for name in TRAIT_TIMES:
        traits[name] = zoned(traits[name])
    return (f'{{"customer_id":{_json(customer_id)},"attributes":{attributes},"display":{_json(display)},'
            f'"lineage":{lineage},"sources":{sources},"traits":{_json(traits)}}}')


_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
"""Compact JSON, as DuckDB writes the stored parts (one encoder: `json.dumps` builds one per call)."""


def _key(kind: str, value: str, hashed: frozenset[str], sealer: Sealer | None) -> tuple[sa.ColumnElement[bool], ...]:
    """The search_keys conditions of one (kind, value), in a version whose `hashed` kinds are keyed hashes (by
    `sealer`: serving.build.search_keys_sql)."""
    k = search_keys.c
    if sealer is not None and (kind in hashed or (kind == "last_name" and "name" in hashed)):
        return k.kind == kind, k.value == sealer.search_hash(kind, value)
    if kind == "last_name":
        start, end = _surname_range(value)
        return k.kind == "name", k.value >= start, k.value < end
    return k.kind == kind, k.value == value


def _surname_range(last_name: str) -> tuple[str, str]:
    """[start, end) of the name keys of a surname ('SMITH/' up to 'SMITH0')."""
    start = name_key(last_name, None)
    return start, start[:-1] + chr(ord(NAME_SEPARATOR) + 1)


def _one_key_search(kind: str) -> sa.Select[Any]:
    """The search by one key of `kind`, its value and page as parameters (kind; value, or start and end for
    `last_name`, whose keys are a range; limit and offset)."""
    k = search_keys.c
    having = ((k.value >= sa.bindparam("start"), k.value < sa.bindparam("end")) if kind == "last_name"
              else (k.value == sa.bindparam("value"),))
    customers = sa.select(k.customer_id).where(k.kind == sa.bindparam("kind"), *having)
    return (sa.select(*DOCUMENT).where(profiles.c.customer_id.in_(customers)).order_by(profiles.c.customer_id)
            .limit(sa.bindparam("limit")).offset(sa.bindparam("offset")))  # an explicit offset: SQLite adds one


def _event_key(event: list[Any]) -> tuple[str, ...]:
    """The sort key of an event (its EVENT_FIELDS values), as the timeline's last_* columns hold it."""
    at, source, name, interaction_id = event[:len(TIMELINE_CURSOR)]
    return (at or "", source, name, interaction_id)


def encode_cursor(values: Sequence[Any]) -> str:
    """An opaque token for the sort key of the last row served."""
    return base64.urlsafe_b64encode(json.dumps(list(values), separators=(",", ":")).encode()).decode().rstrip("=")


NOT_A_CURSOR = "cursor: not a cursor this API gave out"


def decode_cursor(token: str, types: tuple[type, ...]) -> list[Any]:
    """The sort key inside a token made by `encode_cursor`, one value of each of `types` (str, float for a
    probability in [0, 1], or int for a row id); BadCursor when it is not one.

    A token is the client's to forge: every value is checked before it reaches SQL, where a lone surrogate,
    an integer wider than 64 bits or a NUL would fail in the driver rather than answer.
    """
    try:
        values = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except ValueError:
        raise BadCursor(NOT_A_CURSOR) from None
    if not isinstance(values, list) or len(values) != len(types) or not all(map(_fits, values, types)):
        raise BadCursor(NOT_A_CURSOR)
    return [float(v) if t is float else v for v, t in zip(values, types, strict=True)]


def _fits(value: Any, kind: type) -> bool:
    """Whether a decoded cursor value is one of `kind` the store can take."""
    if kind is float:
        number = isinstance(value, int | float) and not isinstance(value, bool)
        return number and math.isfinite(value) and 0 <= value <= 1
    if kind is int:  # a row id: positive and within 64 bits
        return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**63
    if not isinstance(value, str) or "\0" in value:
        return False
    try:
        value.encode()
    except UnicodeEncodeError:  # a lone surrogate, which JSON's \ud800 escape can carry
        return False
    return True


def _record_ref(record_id: str) -> dict[str, str]:
    """A record id ('<source>:<source_id>'; source names hold no colon) as the API names records."""
    source, _, source_id = record_id.partition(":")
    return {"source": source, "source_id": source_id}


class ServingReader:
    """Read-only queries over one serving store, with one connection pool per process."""

    def __init__(self, url: str, pool_size: int = 8, sealer: Sealer | None = None) -> None:
        self.sealer = sealer
        """Opens what a version published encrypted holds (None: a process without $CDP_DATA_KEY)."""
        dialect = sa.make_url(url).get_backend_name()
        options = {"pool_size": pool_size, "max_overflow": pool_size, "pool_pre_ping": False,
                   **ENGINE_OPTIONS.get(dialect, {})}
        # AUTOCOMMIT: one statement per answer needs no transaction, and a pooled connection
        # comes back without a rollback round trip.
        self.engine = sa.create_engine(url, isolation_level="AUTOCOMMIT", **options)
        self.file = sqlite_file(url)
        """The store's SQLite file, None for a server."""
        by_id: sa.BindParameter[str] = sa.bindparam("customer_id")
        of_record = source_records.join(profiles, source_records.c.customer_id == profiles.c.customer_id)
        record = (source_records.c.source == sa.bindparam("source"),
                  source_records.c.source_id == sa.bindparam("source_id"))
        lookup = self._lookup
        self._profile = lookup(sa.select(*DOCUMENT).where(profiles.c.customer_id == by_id))
        self._by_source = lookup(sa.select(*DOCUMENT).select_from(of_record).where(*record))
        self._redirect = lookup(sa.select(redirects.c.to_id).where(redirects.c.from_id == by_id))
        self._exists = lookup(sa.select(profiles.c.customer_id).where(profiles.c.customer_id == by_id))
        # A search by one value, the commonest, compiled once like the lookups above (building and compiling the
        # general query costs five times the read).
        self._search_one = {kind: lookup(_one_key_search(kind)) for kind in SEARCH_KINDS}
        latest = sa.select(sa.func.max(publish_log.c.version)).scalar_subquery()
        self._sealing = lookup(sa.select(publish_log.c.key_id, publish_log.c.hashed_search)
                               .where(publish_log.c.version == latest))

    def close(self) -> None:
        """Close the pooled connections."""
        self.engine.dispose()

    def _lookup(self, statement: sa.Select[Any]) -> Lookup:
        compiled = statement.compile(dialect=self.engine.dialect)
        return Lookup(str(compiled), tuple(compiled.positiontup) if compiled.positional else None)  # type: ignore[arg-type]

    def _first(self, lookup: Lookup, params: dict[str, Any]) -> tuple[Any, ...] | None:
        """The lookup's first row, or None (see `_rows`)."""
        rows = self._rows(lookup, params, 1)
        return rows[0] if rows else None

    def _rows(self, lookup: Lookup, params: dict[str, Any], most: int | None = None) -> list[tuple[Any, ...]]:
        """The lookup's rows (the first `most`, when given).

        The API's hot path: SQLAlchemy's Connection and Result cost several times a primary-key read
        (190 vs 60 us on SQLite), so the statement, compiled once, runs on a pooled connection's own
        cursor. Driver errors are raised as SQLAlchemy's, a lost connection is dropped from the pool.
        """
        args = tuple(params[name] for name in lookup.order) if lookup.order is not None else params
        dialect = self.engine.dialect
        try:
            conn = self.engine.raw_connection()
        except dialect.loaded_dbapi.Error as exc:  # e.g. a SQLite file in a folder no run has made yet
            raise sa.exc.DBAPIError.instance(None, None, exc, dialect.loaded_dbapi.Error) from exc
        try:
            cursor = conn.cursor()
            try:
                cursor.execute(lookup.sql, args)
                rows = cursor.fetchmany(most) if most is not None else cursor.fetchall()
            finally:
                cursor.close()
        except dialect.loaded_dbapi.Error as exc:
            if dialect.is_disconnect(exc, conn.dbapi_connection, None):
                conn.invalidate(exc)
            raise sa.exc.DBAPIError.instance(lookup.sql, args, exc, dialect.loaded_dbapi.Error) from exc
        finally:
            conn.close()
        return [tuple(row) for row in rows]

    def profile(self, customer_id: str, mask: Mask | None) -> str | None:
        """The JSON text of a live customer's profile (masked by `mask`, if any), or None."""
        row = self._first(self._profile, {"customer_id": customer_id})
        return document(row, mask, self.sealer) if row is not None else None

    def redirect(self, customer_id: str) -> str | None:
        """The live id a merged-away customer id now points to, or None."""
        row = self._first(self._redirect, {"customer_id": customer_id})
        return row[0] if row is not None else None

    def merged_into(self, customer_id: str) -> list[str]:
        """The ids merged into a live customer (those that now redirect to it), sorted."""
        query = sa.select(redirects.c.from_id).where(redirects.c.to_id == customer_id).order_by(redirects.c.from_id)
        with self.engine.connect() as con:
            return list(con.execute(query).scalars())

    def links(self, customer_id: str) -> list[dict[str, Any]]:
        """The links that hold a customer together (serving.tables.customer_links), strongest first, as dicts
        with `left` and `right` records ({source, source_id}) and the explanation parsed."""
        cl = customer_links.c
        query = (sa.select(cl.record_id_l, cl.record_id_r, cl.match_probability, cl.explanation)
                 .where(cl.customer_id == customer_id).order_by(cl.match_probability.desc(), cl.record_id_l))
        with self.engine.connect() as con:
            rows = con.execute(query).all()
        return [{"left": _record_ref(r.record_id_l), "right": _record_ref(r.record_id_r),
                 "match_probability": r.match_probability, "explanation": json.loads(r.explanation)} for r in rows]

    def exists(self, customer_id: str) -> bool:
        """Whether `customer_id` is a live customer."""
        return self._first(self._exists, {"customer_id": customer_id}) is not None

    def by_source(self, source: str, source_id: str, mask: Mask | None) -> str | None:
        """The profile JSON text of the customer a source record belongs to, or None."""
        row = self._first(self._by_source, {"source": source, "source_id": source_id})
        return document(row, mask, self.sealer) if row is not None else None

    def search(self, keys: Sequence[tuple[str, str]], segments: Sequence[str], mask: Mask | None, limit: int,
               cursor: str | None = None) -> Page:
        """Profiles (JSON texts) having every search key (kind, value) and in every segment, by customer id."""
        for kind, _ in keys:
            if kind not in SEARCH_KINDS:
                raise BadQuery(f"unknown search key kind {kind!r}; known: {', '.join(SEARCH_KINDS)}")
        hashed = self._hashed() if keys else frozenset()
        if len(keys) == 1 and not segments and cursor is None and not hashed:
            kind, value = keys[0]
            if kind == "last_name":
                start, end = _surname_range(value)
                params = {"kind": "name", "start": start, "end": end}
            else:
                params = {"kind": kind, "value": value}
            return self._page(self._rows(self._search_one[kind], params | {"limit": limit + 1, "offset": 0}), limit,
                              mask)
        query = sa.select(*DOCUMENT).order_by(profiles.c.customer_id).limit(limit + 1)
        for kind, value in keys:
            having = sa.select(search_keys.c.customer_id).where(*_key(kind, value, hashed, self.sealer))
            query = query.where(profiles.c.customer_id.in_(having))
        for name in segments:
            query = query.where(segment_filter(name))
        if cursor is not None:
            (after,) = decode_cursor(cursor, SEARCH_CURSOR)
            query = query.where(profiles.c.customer_id > after)
        with self.engine.connect() as con:
            return self._page([tuple(row) for row in con.execute(query).all()], limit, mask)

    def _page(self, rows: list[tuple[Any, ...]], limit: int, mask: Mask | None) -> Page:
        """A page of up to `limit` of `rows` (one more tells there is a next page)."""
        more = len(rows) > limit
        rows = rows[:limit]
        return Page([document(row, mask, self.sealer) for row in rows],
                    encode_cursor([rows[-1][0]]) if more else None)

    def _hashed(self) -> frozenset[str]:
        """The search key kinds the current version stores as keyed hashes; SealedStore when this process has
        no key, or another key than the version's (its hashes would silently find nobody)."""
        key_id, hashed = self._sealed_as()
        check_key(key_id, self.sealer)
        return hashed

    def _sealed_as(self) -> tuple[str | None, frozenset[str]]:
        """The current version's data key id (None: plain) and hashed search key kinds."""
        try:
            row = self._first(self._sealing, {})  # every search asks: compiled once, as the lookups
        except (sa.exc.OperationalError, sa.exc.ProgrammingError):
            # A store not yet migrated to 0006 (the API never migrates; the next publish does) holds plain
            # versions only. A store that cannot be read fails the answer's own query next, and says so.
            return None, frozenset()
        return (row[0], _kinds(row[1])) if row is not None else (None, frozenset())

    def timeline(self, customer_id: str, limit: int, cursor: str | None = None, mask: Mask | None = None) -> Page:
        """A customer's interactions from every silo, newest first, as dicts (attributes parsed; those named
        like a PII attribute masked by `mask`).

        Events whose time could not be read come last. A cursor is the sort key of the last event
        served, so a page after a publish resumes where the reader was, not at a shifted offset.
        """
        t = timeline.c
        # The first chunk read may hold events up to the cursor: one chunk more than the page needs.
        chunks = -(-(limit + 1) // TIMELINE_CHUNK) + 1
        query = sa.select(t.position, t.events).where(t.customer_id == customer_id).order_by(t.position).limit(chunks)
        after: tuple[str, ...] | None = None
        if cursor is not None:
            after = tuple(decode_cursor(cursor, TIMELINE_CURSOR))
            last = (t.last_at, t.last_source, t.last_name, t.last_interaction_id)
            query = query.where(sa.tuple_(*last) < sa.tuple_(*after))
        with self.engine.connect() as con:
            events = [e for position, text in con.execute(query)
                      for e in json.loads(unseal(text, self.sealer, timeline.name, "events", customer_id, position))]
        if after is not None:
            events = [e for e in events if _event_key(e) < after]
        more = len(events) > limit
        items = [dict(zip(EVENT_FIELDS, e, strict=True)) for e in events[:limit]]
        if mask is not None:
            for item in items:
                item["attributes"] = mask.attributes(item["attributes"])
        token = encode_cursor(_event_key(events[limit - 1])) if more else None
        return Page(items, token)

    def version(self) -> Version | None:
        """The current published version, or None when nothing has been published yet."""
        unwritten = self.file is not None and not self.file.exists()  # no run made it (nor, maybe, its folder)
        if unwritten or not sa.inspect(self.engine).has_table(publish_log.name):
            return None
        log = publish_log.c
        query = sa.select(log.version, log.published_at, log.customers, log.records).order_by(log.version.desc())
        with self.engine.connect() as con:
            row = con.execute(query.limit(1)).first()
        if row is None:
            return None
        return Version(row.version, row.published_at, row.customers, row.records, *self._sealed_as())


def _kinds(hashed_search: str | None) -> frozenset[str]:
    """publish_log.hashed_search as a set of kinds."""
    return frozenset(filter(None, (hashed_search or "").split(",")))


def check_key(published: str | None, sealer: Sealer | None) -> None:
    """SealedStore unless `sealer` holds the data key a version was encrypted with (`published`, a key id;
    None: a plain version, which any reader reads)."""
    if published is None:
        return
    if sealer is None:
        raise no_key(published)
    if sealer.key_id != published:
        raise SealedStore(f"the serving store is encrypted with data key {published}, but $CDP_DATA_KEY is key "
                          f"{sealer.key_id}: set it to the key the store was published with")
