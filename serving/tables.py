"""The serving store's schema: the one definition publish writes and the API reads.

Changed only through Alembic migrations (serving/migrations/). Physical table names are fixed;
a publish loads every table except publish_log into a shadow copy and swaps the whole set in one
transaction, so a reader sees one version or the next, never half of each. JSON is stored as TEXT.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import TypeEngine

from cdp.schema import TRAIT_COLUMNS

metadata = MetaData()

TRAIT_TYPES: dict[str, type[TypeEngine[Any]]] = {
    "DOUBLE": Float, "BIGINT": Integer, "VARCHAR": Text, "BOOLEAN": Boolean,
    "TIMESTAMP": Text,  # ISO 8601 text, as the API answers it (serving.build formats it)
}
"""The serving type of each DuckDB type of cdp.schema.TRAIT_COLUMNS."""

Key = Text().with_variant(postgresql.TEXT(collation="C"), "postgresql")
"""Text matched byte for byte: ids and search keys. PostgreSQL's default collation would compare them
by language rules, and builds their indexes several times slower."""

profiles = Table(
    "profiles",
    metadata,
    Column("customer_id", Key, nullable=False),
    Column("attributes", Text, nullable=False, doc="JSON object: the golden values (the API masks it for readers "
                                                   "without pii)."),
    Column("lineage", Text, nullable=False,
           doc="JSON object: attribute -> [source, source_id, rule, display] (the API writes the first three as "
               "an object of LINEAGE_FIELDS and the display forms as the `display` object; the arrays keep a "
               "quarter of the profile bytes out of every publish)."),
    Column("sources", Text, nullable=False,
           doc="JSON array: [{source, source_id, values}] of every record, values as the source sent them."),
    # The traits, typed: the segment filters read them and the API writes them out as the `traits` object.
    *(Column(name, TRAIT_TYPES[kind]) for name, kind in TRAIT_COLUMNS),
    PrimaryKeyConstraint("customer_id", name="pk_profiles"),
    # Segment filters walk the primary key in order: every tier and loyalty class holds a good share of the
    # customers, so a page fills after a short scan. Churn risk may be rare: it keeps an index of its own,
    # whose condition is the filter as each dialect writes it (SQLite compares booleans with 1).
    Index("ix_profiles_churn_risk", "customer_id", postgresql_where=text("churn_risk"),
          sqlite_where=text("churn_risk = 1")),
)
"""One row per live customer: the parts of the GET /customers/{id} document (api.reader joins them)."""

LINEAGE_FIELDS = ("source", "source_id", "rule")
"""What a lineage entry holds, in order: the record that gave the value and the rule that chose it."""

search_keys = Table(
    "search_keys",
    metadata,
    Column("kind", Key, nullable=False,
           doc="'email' | 'phone' | 'name'."),
    Column("value", Key, nullable=False,
           doc="Standardised as ingestion does: email, phone E.164, name as `name_key` writes it."),
    Column("customer_id", Key, nullable=False),
    PrimaryKeyConstraint("kind", "value", "customer_id", name="pk_search_keys"),
    Index("ix_search_keys_customer", "customer_id"),  # a partial publish deletes by customer
    sqlite_with_rowid=False,  # the key is the table: no second copy as an index
)

SEARCH_ATTRIBUTES = {"email": frozenset({"email"}), "phone": frozenset({"phone"}),
                     "name": frozenset({"first_name", "middle_name", "last_name", "full_name"})}
"""Search key kind -> the attributes whose values it holds. With a data key, a kind holding an `api.pii`
attribute is stored as keyed hashes (cdp.sealing.Sealer.search_hash): found by exact value only, so hashed
names get `last_name` keys of their own for surname searches."""

NAME_SEPARATOR = "/"
"""Ends the last name in a name key; no standardised name holds it."""


def name_key(last_name: str, first_name_root: str | None) -> str:
    """'<LAST_NAME>/<FIRST_NAME_ROOT>', or '<LAST_NAME>/' without a first name: surname first, so that a
    surname search is a range of the same keys ('SMITH/' up to 'SMITH0') rather than keys of its own."""
    return f"{last_name}{NAME_SEPARATOR}{first_name_root or ''}"


MATCH_COLUMNS = ("first_name", "first_name_root", "middle_name", "last_name", "name_suffix", "email", "email_user",
                 "phone", "street", "city", "postcode", "tax_id", "dob")
"""The columns the match model compares (identity.model.INPUT_SQL without its id, source and dob_year)."""

match_records = Table(
    "match_records",
    metadata,
    Column("record_id", Key, nullable=False, doc="'<source>:<source_id>'."),
    Column("customer_id", Key, nullable=False),
    *(Column(name, Text) for name in MATCH_COLUMNS),
    PrimaryKeyConstraint("record_id", name="pk_match_records"),
    Index("ix_match_records_customer", "customer_id"),
)
"""Every published record as the match model compares it: POST /resolve blocks and scores against these
(the API indexes them in memory per published version)."""

source_records = Table(
    "source_records",
    metadata,
    Column("source", Key, nullable=False),
    Column("source_id", Key, nullable=False),
    Column("customer_id", Key, nullable=False),
    PrimaryKeyConstraint("source", "source_id", name="pk_source_records"),
    Index("ix_source_records_customer", "customer_id"),  # a partial publish deletes and diffs by customer
    sqlite_with_rowid=False,
)

redirects = Table(
    "redirects",
    metadata,
    Column("from_id", Key, nullable=False),
    Column("to_id", Key, nullable=False,
           doc="Always a live customer id."),
    PrimaryKeyConstraint("from_id", name="pk_redirects"),
    Index("ix_redirects_to", "to_id"),  # a partial publish deletes the redirects to its customers too
)

timeline = Table(
    "timeline",
    metadata,
    Column("customer_id", Key, nullable=False),
    Column("position", Integer, nullable=False,
           doc="Place of the chunk's first event in the customer's timeline (0 = the newest)."),
    # The sort key of the chunk's last (oldest) event: a cursor resumes at the first chunk older than it.
    Column("last_at", Key, nullable=False, doc="ISO 8601, '' when the silo's time could not be read."),
    Column("last_source", Key, nullable=False),
    Column("last_name", Key, nullable=False),
    Column("last_interaction_id", Key, nullable=False),
    Column("events", Text, nullable=False,
           doc="JSON array of up to TIMELINE_CHUNK events, newest first, each an array of EVENT_FIELDS."),
    PrimaryKeyConstraint("customer_id", "position", name="pk_timeline"),
)
"""Every silo's interactions of a customer in chunks, newest first: a page reads one or two rows, and a
publish writes about a row per customer rather than one per event (a load costs per row)."""

EVENT_FIELDS = ("at", "source", "name", "interaction_id", "amount", "attributes")
"""The values of a timeline event, in order. Newest first means by `at` (ISO text, unknown last), then
source, name and interaction id, all descending: a total order, which the API's cursors rely on."""

TIMELINE_CHUNK = 100
"""Events per timeline row."""

publish_log = Table(
    "publish_log",
    metadata,
    Column("version", Integer, autoincrement=False, nullable=False),
    Column("published_at", DateTime, nullable=False),
    Column("run_id", Text),
    Column("customers", Integer, nullable=False),
    Column("records", Integer, nullable=False),
    Column("key_id", Text, doc="cdp.datakey.key_id of the data key the version's personal values are encrypted "
                               "with (cdp.sealing); NULL: stored plain."),
    Column("hashed_search", Text, doc="The search key kinds stored as keyed hashes, comma-separated (NULL: none)."),
    Column("model", Text, doc="The match model file (in the state folder's models/) the version was resolved with; "
                              "NULL: not known (published before 0010, or by a run that scored nothing)."),
    PrimaryKeyConstraint("version", name="pk_publish_log"),
)
"""One row per publish, written in the swap's transaction: the current version is max(version)."""

review_candidates = Table(
    "review_candidates",
    metadata,
    Column("candidate_id", Text, nullable=False, doc="Stable: the same pair of records has the same id on every run."),
    Column("record_id_l", Text, nullable=False),
    Column("record_id_r", Text, nullable=False),
    Column("match_probability", Float, nullable=False),
    Column("status", Text, nullable=False, doc="'open' | 'decided' (as of the run that published it)."),
    Column("left_record", Text, nullable=False,
           doc="JSON: {source, source_id, <standardised attributes>} of record_id_l."),
    Column("right_record", Text, nullable=False, doc="JSON: the same for record_id_r."),
    Column("explanation", Text, nullable=False, doc="JSON array: [{comparison, level, weight}] in model order."),
    PrimaryKeyConstraint("candidate_id", name="pk_review_candidates"),
    # The queue pages most likely matches first; the candidate id breaks ties.
    Index("ix_review_candidates_queue", "status", "match_probability", "candidate_id"),
)
"""The stewards' queue: pairs the model was unsure about and links the clustering guards refused."""

customer_links = Table(
    "customer_links",
    metadata,
    Column("customer_id", Key, nullable=False),
    Column("record_id_l", Text, nullable=False),
    Column("record_id_r", Text, nullable=False),
    Column("match_probability", Float, nullable=False),
    Column("explanation", Text, nullable=False, doc="JSON array: [{comparison, level, weight}] in model order."),
    PrimaryKeyConstraint("customer_id", "record_id_l", "record_id_r", name="pk_customer_links"),
)
"""Why a customer's records are one: each record's strongest scored link to another record of the same customer
(at most one row per record, so the table grows with the records, not with the pairs). A record held only by a
steward's must-link, or a customer of one record, has none."""

review_decisions = Table(
    "review_decisions",
    metadata,
    Column("decision_id", Integer, autoincrement=True, nullable=False),
    Column("candidate_id", Text, nullable=False),
    Column("record_id_l", Text, nullable=False, doc="Copied from the candidate: a decision stands on its own."),
    Column("record_id_r", Text, nullable=False),
    Column("decision", Text, nullable=False, doc="'match' | 'no_match'."),
    Column("who", Text, nullable=False, doc="The steward's key name (api.auth.Caller.who)."),
    Column("note", Text),
    Column("at", DateTime, nullable=False, doc="UTC."),
    PrimaryKeyConstraint("decision_id", name="pk_review_decisions"),
    Index("ix_review_decisions_candidate", "candidate_id", "decision_id"),
)
"""Stewards' decisions, written by the API and never replaced by a publish: the next run imports them."""

audit = Table(
    "audit",
    metadata,
    Column("audit_id", Integer, autoincrement=True, nullable=False),
    Column("at", DateTime, nullable=False, doc="UTC."),
    Column("who", Text, nullable=False, doc="The key's name (api.auth.Caller.who): never the key."),
    Column("action", Text, nullable=False, doc="'decision' | 'erasure' | 'merge' | 'split' (AUDIT_ACTIONS)."),
    Column("customer_id", Key, doc="The customer acted on (a decision: the left record's, when published; a "
                                   "merge: the survivor)."),
    Column("other_customer_id", Key, doc="A decision: the right record's customer; a merge: the one merged away."),
    Column("candidate_id", Text, doc="A decision's review candidate."),
    Column("detail", Text, doc="A decision: 'match' | 'no_match'; a merge: its must-link; a split: the records split "
                               "out. An erasure records that it happened, not what."),
    Column("note", Text),
    PrimaryKeyConstraint("audit_id", name="pk_audit"),
    Index("ix_audit_customer", "customer_id", "audit_id"),
    Index("ix_audit_other_customer", "other_customer_id", "audit_id"),
    Index("ix_audit_who", "who", "audit_id"),
)
"""Append-only: who did what to which customer, and when. Written by the API (never updated or deleted);
no publish touches it."""

AUDIT_ACTIONS = ("decision", "erasure", "merge", "split")
"""What the audit records (serving.audit.record's `action`)."""

suppressions = Table(
    "suppressions",
    metadata,
    Column("suppression_id", Integer, autoincrement=True, nullable=False),
    Column("record_hash", Key, nullable=False, doc="cdp.datakey.record_hash of (source, source_id): never values."),
    Column("key_id", Text, nullable=False, doc="cdp.datakey.key_id of the data key the hash was taken with."),
    Column("at", DateTime, nullable=False, doc="UTC."),
    PrimaryKeyConstraint("suppression_id", name="pk_suppressions"),
    Index("ux_suppressions_hash", "record_hash", unique=True),
)
"""Erased source records, written by an erasure (serving.erasure) and never replaced by a publish: every run
copies them into the warehouse, whose loads then quarantine those records."""

SEALED: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "profiles": (("customer_id",), ("attributes", "lineage", "sources")),
    "timeline": (("customer_id", "position"), ("events",)),
    "review_candidates": (("candidate_id",), ("left_record", "right_record")),
    "match_records": (("record_id",), MATCH_COLUMNS),
}
"""Table -> (its row key, the JSON columns holding personal values): encrypted whole with a data key
(cdp.sealing), each bound to its table, column and row key. Whole parts, not single values: a profile read
opens three texts, not one per value, and the values as sources sent them are covered in any spelling.
match_records, read once per version to index it for POST /resolve, is sealed value by value."""

PUBLISHED: tuple[Table, ...] = (profiles, search_keys, source_records, redirects, timeline, review_candidates,
                                customer_links, match_records)
"""The tables a publish replaces as a whole, or a partial publish some customers' rows of (publish_log is appended
to; review_decisions, audit and suppressions belong to the API)."""

Serial = BigInteger().with_variant(Integer, "sqlite")
"""A 64-bit id: a large publish may record millions of events. SQLite's INTEGER is 64-bit already, and only an
INTEGER primary key numbers itself."""

changes = Table(
    "changes",
    metadata,
    Column("event_id", Serial, autoincrement=True, nullable=False, doc="Increasing: the feed's order."),
    Column("version", Integer, doc="The publish that produced the event; an erasure: the version it was made in."),
    Column("at", DateTime, nullable=False, doc="UTC."),
    Column("type", Key, nullable=False, doc="One of cdp.schema.CHANGE_TYPES."),
    Column("customer_id", Key, nullable=False, doc="The customer changed (a merge: the survivor)."),
    Column("detail", Text, nullable=False,
           doc="JSON object: `merged_ids` of a merge, `split_ids` of a split, `changed` (attribute names) of an "
               "update; {} otherwise."),
    Column("attributes", Text, doc="An update: the new golden attributes (JSON object, the feed shows the changed "
                                   "ones); NULL otherwise, and once the customer is erased."),
    PrimaryKeyConstraint("event_id", name="pk_changes"),
    Index("ix_changes_type", "type", "event_id"),
    Index("ix_changes_customer", "customer_id"),
)
"""The outbox: what each publish changed, appended in the swap's transaction (serving.changes), and erasures,
appended by the API's. Never replaced by a publish; the change feed and the webhooks read it."""

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("attempt_id", Serial, autoincrement=True, nullable=False),
    Column("endpoint", Text, nullable=False, doc="The webhook's url, as cdp.yaml names it."),
    Column("event_id", Serial, nullable=False),
    Column("at", DateTime, nullable=False, doc="UTC."),
    Column("status", Integer, doc="The receiver's HTTP status; NULL when none came (refused, timed out)."),
    Column("error", Text, doc="Why the attempt failed; NULL when it was delivered."),
    PrimaryKeyConstraint("attempt_id", name="pk_webhook_attempts"),
    Index("ix_webhook_attempts_endpoint", "endpoint", "attempt_id"),
)
"""Every delivery attempt of every webhook (serving.webhooks): an endpoint has delivered every event up to its
latest successful attempt's, in order."""
