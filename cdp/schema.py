"""The canonical attributes, and the registry of the warehouse tables every stage reads and writes.

This module is the contract between the packages: ingestion writes `raw_*`, `staged`,
`interactions`, `quarantine` and `attribute_issues`; identity reads `staged` and writes the
identity tables; quality reads them all; publishing copies the golden side to the serving store.
Every table name is built here, and every table whose columns are fixed is registered in `TABLES`
with its DDL (`create_table` creates one from it), so no other module writes a table's columns out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the API imports the trait list without loading DuckDB
    import duckdb

ATTRIBUTES: tuple[str, ...] = (
    "first_name", "middle_name", "last_name", "full_name",
    "email", "phone",
    "street", "city", "state", "postcode", "country",
    "birth_date", "tax_id",
)
"""Canonical attributes a source may map in `fields:`."""

PROFILE_ATTRIBUTES: tuple[str, ...] = tuple(a for a in ATTRIBUTES if a != "full_name")
"""Attributes of a golden profile (full_name is split into its parts during staging)."""


@dataclass(frozen=True)
class Table:
    """A warehouse table whose columns are fixed."""

    name: str
    doc: str
    """One line: what a row is."""
    columns: tuple[tuple[str, str], ...]
    """(name, DuckDB type) of every column, in order."""
    primary_key: tuple[str, ...] = ()

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)

    @property
    def ddl(self) -> str:
        """The column definitions of a CREATE TABLE (names quoted: `at` is a keyword)."""
        columns = [f'"{name}" {kind}' for name, kind in self.columns]
        key = [f"primary key ({', '.join(self.primary_key)})"] if self.primary_key else []
        return ", ".join(columns + key)


TABLES: dict[str, Table] = {}
"""Every registered table of a fixed name, by name."""


def _register(table: Table) -> str:
    """Register `table`; its name is the module constant callers build their SQL with."""
    TABLES[table.name] = table
    return table.name


def create_table(con: duckdb.DuckDBPyConnection, table: Table, name: str | None = None,
                 replace: bool = False) -> None:
    """Create `table` (under `name`: a per-source table) from its registered DDL, if it is missing;
    with `replace`, create it empty even if it exists."""
    create = "create or replace table" if replace else "create table if not exists"
    con.execute(f"{create} {name or table.name} ({table.ddl})")


def ensure_tables(con: duckdb.DuckDBPyConnection, *names: str) -> None:
    """Create each of these registered tables that does not exist yet (existing ones keep their rows)."""
    for name in names:
        create_table(con, TABLES[name])


# --- Names built per source and feed -------------------------------------------------------------

def feed_name(source: str, interaction: str | None = None) -> str:
    """A feed's name: the source ('sales') for its records, '<source>__<interaction>' ('sales__orders') for
    one of its interaction feeds. quarantine, attribute_issues and load_log name a feed in `source`."""
    return f"{source}__{interaction}" if interaction else source


def raw_table(source: str, interaction: str | None = None) -> str:
    """Name of the raw table of a source, or of one of its interaction feeds."""
    return f"raw_{feed_name(source, interaction)}"


def staged_table(source: str) -> str:
    """Name of a source's standardised records (columns: see STAGED)."""
    return f"staged_{source}"


def interactions_table(source: str) -> str:
    """Name of a source's standardised events (columns: SOURCE_INTERACTIONS)."""
    return f"interactions_{source}"


RAW_META = ("_source", "_key", "_batch", "_row_number", "_row_hash", "_loaded_at")
"""Bookkeeping columns of every raw table, beside the source's own columns (as VARCHAR)."""

# --- Ingestion ------------------------------------------------------------------------------------

STAGED = "staged"
"""View: the union of every staged_<source>, one row per published source record. Columns:
record_id VARCHAR ('<source>:<source_id>', unique); source, source_id VARCHAR; trust INTEGER; batch_id,
row_hash VARCHAR; loaded_at TIMESTAMP; updated_at TIMESTAMP (the source's own, may be NULL);
first_name, middle_name, last_name (cleaned: upper-case ASCII letters, spaces, hyphens); name_suffix
(generational suffix kept apart: JR, SR, II, III, IV); first_name_root (nickname folded to its canonical
form, BOB -> ROBERT); email, phone (E.164), street, city, state, postcode, country (ISO-2), tax_id (digits);
birth_date DATE; and <attr>_raw VARCHAR for every attribute in ATTRIBUTES: the value as the source sent
it (NULL if unmapped). Its columns follow ATTRIBUTES, so it is not registered as a fixed table."""

INTERACTIONS = "interactions"
"""View: the union of every interactions_<source> (columns: SOURCE_INTERACTIONS)."""

SOURCE_INTERACTIONS = Table(
    "interactions_<source>", "One event of one of a source's interaction feeds.", (
        ("source", "VARCHAR"), ("name", "VARCHAR"), ("interaction_id", "VARCHAR"), ("source_id", "VARCHAR"),
        ("record_id", "VARCHAR"), ("at", "TIMESTAMP"), ("amount", "DOUBLE"), ("attributes", "JSON")))
"""One table per source (interactions_table); `name` is the feed's interaction name, `attributes` a JSON
object of the feed's listed columns as sent."""

QUARANTINE = _register(Table(
    "quarantine", "A row a load refused, from the latest load of each feed.", (
        ("source", "VARCHAR"), ("source_id", "VARCHAR"), ("row_number", "BIGINT"), ("batch_id", "VARCHAR"),
        ("reason", "VARCHAR"), ("raw", "JSON"), ("at", "TIMESTAMP"))))
"""`source` names the feed (feed_name); source_id is NULL when blank; an unreadable row's raw is
{"_line": <its text>}."""

PUBLISHED_QUARANTINE = _register(Table(
    "published_quarantine", "The quarantine as it stood when the serving store was last published.",
    TABLES[QUARANTINE].columns))
"""What `cdp export quarantine` shows: a run that fails after loading leaves it as the last good run left it."""

ATTRIBUTE_ISSUES = _register(Table(
    "attribute_issues", "A value staging set aside, or kept with a flag (reason 'kept for matching; ...'), "
    "from the latest staging of each feed.", (
        ("source", "VARCHAR"), ("source_id", "VARCHAR"), ("field", "VARCHAR"), ("value", "VARCHAR"),
        ("reason", "VARCHAR"), ("batch_id", "VARCHAR"))))
"""`source` names the feed (feed_name)."""

LOAD_LOG = _register(Table(
    "load_log", "One load of one feed; kept.", (
        ("source", "VARCHAR"), ("batch_id", "VARCHAR"), ("rows_in", "BIGINT"), ("rows_published", "BIGINT"),
        ("rows_quarantined", "BIGINT"), ("rows_new", "BIGINT"), ("rows_changed", "BIGINT"),
        ("rows_vanished", "BIGINT"), ("loaded_at", "TIMESTAMP"))))
"""`source` names the feed (feed_name); new, changed and vanished compare keys and row hashes with the
snapshot the load replaced."""

INGEST_STATE = _register(Table(
    "ingest_state", "What the latest load or staging of a feed saw, for the next incremental run.", (
        ("feed", "VARCHAR"), ("what", "VARCHAR"), ("value", "VARCHAR")),
    primary_key=("feed", "what")))
"""`feed` names the feed (feed_name); `what` is one of ingestion.state's keys: the files' fingerprint, the SQL
source's high-water mark, the raw table's row count, the settings the raw and staged tables were built with."""

SUPPRESSIONS = _register(Table(
    "suppressions", "An erased source record, by keyed hash: loads quarantine it (reason 'erased'); kept.", (
        ("record_hash", "VARCHAR"), ("key_id", "VARCHAR"), ("at", "TIMESTAMP")),
    primary_key=("record_hash",)))
"""record_hash is cdp.datakey.record_hash of (source, source_id) under the data key that key_id names: never
the values. Copied from the serving store, where erasures write it (serving.suppress)."""

ERASED = "erased"
"""The quarantine reason of a row whose record was erased."""

# --- Identity (see identity/) ---------------------------------------------------------------------

MATCH_PAIRS = _register(Table(
    "match_pairs", "A scored pair of records.", (
        ("record_id_l", "VARCHAR"), ("record_id_r", "VARCHAR"), ("match_probability", "DOUBLE"),
        ("match_weight", "DOUBLE"), ("explanation", "JSON"))))
"""record_id_l < record_id_r; explanation: [{comparison, level, weight}, ...] in model order."""

CLUSTERS = _register(Table(
    "clusters", "Every staged record and its cluster.", (("record_id", "VARCHAR"), ("cluster_id", "VARCHAR"))))
"""cluster_id is the smallest record_id in the cluster."""

RECORD_CUSTOMER = _register(Table(
    "record_customer", "The crosswalk, by record: each record's customer id.",
    (("record_id", "VARCHAR"), ("customer_id", "VARCHAR"))))

CUSTOMERS = _register(Table(
    "customers", "One live customer id: the run that issued it and its number of records.",
    (("customer_id", "VARCHAR"), ("created_run", "VARCHAR"), ("size", "BIGINT"))))

ID_HISTORY = _register(Table(
    "id_history", "One event in the life of a customer id; kept.", (
        ("run_id", "VARCHAR"), ("at", "TIMESTAMP"), ("event", "VARCHAR"), ("customer_id", "VARCHAR"),
        ("other_id", "VARCHAR"), ("detail", "VARCHAR"))))
"""event: 'new' | 'merge' (customer_id absorbed other_id) | 'split' (records of customer_id moved to
other_id) | 'gone' (customer_id has no records left)."""

ID_REDIRECTS = _register(Table(
    "id_redirects", "A customer id merged away, and the live id it now points to.",
    (("from_id", "VARCHAR"), ("to_id", "VARCHAR"), ("run_id", "VARCHAR"))))
"""to_id is always a live customer id."""

ID_COUNTER = _register(Table(
    "id_counter", "One row: the number of the last customer id issued.", (("last_number", "BIGINT"),)))
"""Ids are never reused."""

GOLDEN = _register(Table(
    "golden", "One golden profile per customer: the surviving value of each attribute.",
    (("customer_id", "VARCHAR"),
     *((attr, "DATE" if attr == "birth_date" else "VARCHAR") for attr in PROFILE_ATTRIBUTES))))

LINEAGE = _register(Table(
    "lineage", "Which record gave a golden value, the value as people write it (display), and the survivorship "
    "rule that chose it.", (
        ("customer_id", "VARCHAR"), ("attribute", "VARCHAR"), ("value", "VARCHAR"), ("display", "VARCHAR"),
        ("source", "VARCHAR"), ("source_id", "VARCHAR"), ("rule", "VARCHAR"))))

CROSSWALK = "crosswalk"
"""View: source, source_id, customer_id of every staged record."""

REVIEW_CANDIDATES = _register(Table(
    "review_candidates", "A pair queued for the stewards.", (
        ("candidate_id", "VARCHAR"), ("record_id_l", "VARCHAR"), ("record_id_r", "VARCHAR"),
        ("match_probability", "DOUBLE"), ("explanation", "JSON"), ("status", "VARCHAR")),
    primary_key=("candidate_id",)))
"""status: 'open' | 'decided'."""

STEWARD_DECISIONS = _register(Table(
    "steward_decisions", "A steward's decision on a pair; kept.", (
        ("record_id_l", "VARCHAR"), ("record_id_r", "VARCHAR"), ("decision", "VARCHAR"), ("who", "VARCHAR"),
        ("note", "VARCHAR"), ("at", "TIMESTAMP"))))
"""decision: 'match' | 'no_match'."""

TRAIT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("lifetime_value", "DOUBLE"), ("order_count", "BIGINT"), ("invoice_count", "BIGINT"),
    ("ticket_count", "BIGINT"), ("first_seen", "TIMESTAMP"), ("last_seen", "TIMESTAMP"),
    ("tickets_90d", "BIGINT"), ("complaints_90d", "BIGINT"), ("recency_tier", "VARCHAR"),
    ("frequency_tier", "VARCHAR"), ("monetary_tier", "VARCHAR"), ("loyalty", "VARCHAR"), ("churn_risk", "BOOLEAN"),
)
"""The traits of a customer and their DuckDB types, in the order of the profile's `traits` object
(identity/traits.py says what each is)."""

TRAITS: tuple[str, ...] = tuple(name for name, _ in TRAIT_COLUMNS)
"""The trait names: the one list the warehouse, the serving store and the API take them from."""

SEGMENT_TIERS = ("recency", "frequency", "monetary")
"""Tier segments are named `<tier>:<level>`, e.g. `monetary:high` (the `<tier>_tier` traits)."""
SEGMENT_LEVELS = ("high", "mid", "low")
LOYALTY_CLASSES = ("long_valuable", "short_valuable", "long_low_value", "short_low_value")
"""Loyalty segments are named by their class (the `loyalty` trait)."""
CHURN_RISK = "churn_risk"
SEGMENTS: tuple[str, ...] = (*(f"{tier}:{level}" for tier in SEGMENT_TIERS for level in SEGMENT_LEVELS),
                             *LOYALTY_CLASSES, CHURN_RISK)
"""Every segment name: GET /customers?segment= filters on them, the change feed reports entering and leaving them."""

CUSTOMER_CHANGES = ("customer.created", "customer.merged", "customer.split", "customer.removed", "customer.erased",
                    "customer.updated")
"""Change types of a customer as a whole (serving.changes); `customer.removed`: its records left every source."""
SEGMENT_CHANGES = ("segment.entered", "segment.left")
"""Change types of segment membership, named `<change>:<segment>`, e.g. `segment.entered:churn_risk`."""
CHANGE_TYPES: tuple[str, ...] = (*CUSTOMER_CHANGES, *(f"{c}:{s}" for c in SEGMENT_CHANGES for s in SEGMENTS))
"""Every type an event of the change feed and a webhook may have."""

TRAITS_TABLE = _register(Table(
    "traits", "The traits of one customer.", (("customer_id", "VARCHAR"), *TRAIT_COLUMNS)))

# --- Incremental runs ------------------------------------------------------------------------------

DIRTY_CUSTOMERS = _register(Table(
    "dirty_customers", "A customer id whose served rows may differ from the serving store's live version.",
    (("customer_id", "VARCHAR"),), primary_key=("customer_id",)))
"""Identity adds the ids its run touched (new, changed, merged away, gone; traits that moved), `DIRTY_ALL` when
it redid everything; a successful publish replaces just these customers' rows, then empties the table.
A missing table means nothing is known about the live version, so the next publish is a full one."""

DIRTY_ALL = "*"
"""The `dirty_customers` row standing for every customer: the next publish replaces the whole version."""

LAST_PUBLISH = _register(Table(
    "last_publish", "The serving store's version this warehouse last published (one row).",
    (("store", "VARCHAR"), ("version", "INTEGER"), ("published_at", "VARCHAR"), ("schema", "VARCHAR"))))
"""serving.store.LiveVersion as the store logged it: a publish replaces only the dirty customers' rows when the
store's live version is still this one (not restored, not published by another warehouse, not migrated)."""

IDENTITY_SNAPSHOT = _register(Table(
    "identity_snapshot", "A staged record as identity last resolved it: a hash of its staged values, its customer.",
    (("record_id", "VARCHAR"), ("row_hash", "UBIGINT"), ("customer_id", "VARCHAR"))))
"""What an incremental `match_pairs` compares `staged` with to find the new, changed and deleted records; the
customer id finds a deleted record's customer even after an erasure purged it from the other tables."""

IDENTITY_STATE = _register(Table(
    "identity_state", "One row: the model identity last scored with, and the latest steward decision it clustered by.",
    (("model", "VARCHAR"), ("decisions_seen", "TIMESTAMP"))))

IDENTITY_PENDING = _register(Table(
    "identity_pending", "A record whose customer the identity assets still have to work out again.",
    (("record_id", "VARCHAR"),), primary_key=("record_id",)))
"""Filled by `match_pairs` (the delta) and `clusters` (the records re-clustered), emptied by `traits`, the last
identity asset; a run that fails half-way leaves it for the next. `DIRTY_ALL` stands for every record (a full run)."""

# --- Quality (see quality/) -----------------------------------------------------------------------

QUALITY_HISTORY = _register(Table(
    "quality_history", "One figure of one run; kept.",
    (("run_id", "VARCHAR"), ("at", "TIMESTAMP"), ("metric", "VARCHAR"), ("value", "DOUBLE"))))
"""The identity figures and rows per feed of each run: a run compares its customer count and match rate
with the latest other run's."""
