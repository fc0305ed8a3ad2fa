"""The serving store's schema: the one definition publish writes and the API reads.

Changed only through Alembic migrations (cdp/serving/migrations/). Physical table names are fixed;
a publish loads every table except publish_log into a shadow copy and swaps the whole set in one
transaction, so a reader sees one version or the next, never half of each. JSON is stored as TEXT.
"""

from __future__ import annotations

from sqlalchemy import (
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
)

metadata = MetaData()

profiles = Table(
    "profiles",
    metadata,
    Column("customer_id", Text, nullable=False),
    Column("doc", Text, nullable=False,
           doc="JSON: the full GET /customers/{id} body (customer_id, attributes, lineage, sources, traits)."),
    Column("doc_masked", Text, nullable=False,
           doc="JSON: `doc` with email, phone and tax_id masked by cdp.serving.mask, for readers without pii."),
    Column("first_name", Text),
    Column("last_name", Text),
    Column("recency_tier", Text),
    Column("frequency_tier", Text),
    Column("monetary_tier", Text),
    Column("loyalty", Text),
    Column("churn_risk", Boolean),
    Column("lifetime_value", Float),
    PrimaryKeyConstraint("customer_id", name="pk_profiles"),
    # Segment filters page by customer_id; churn_risk is rare, so a scan of the profiles would be slow.
    Index("ix_profiles_recency_tier", "recency_tier", "customer_id"),
    Index("ix_profiles_frequency_tier", "frequency_tier", "customer_id"),
    Index("ix_profiles_monetary_tier", "monetary_tier", "customer_id"),
    Index("ix_profiles_loyalty", "loyalty", "customer_id"),
    Index("ix_profiles_churn_risk", "churn_risk", "customer_id"),
)

search_keys = Table(
    "search_keys",
    metadata,
    Column("kind", Text, nullable=False,
           doc="'email' | 'phone' | 'name' | 'last_name'."),
    Column("value", Text, nullable=False,
           doc="Standardised as ingestion does: email, phone E.164, name '<FIRST_NAME_ROOT> <LAST_NAME>', last_name."),
    Column("customer_id", Text, nullable=False),
    Index("ix_search_keys", "kind", "value", "customer_id"),
)

source_records = Table(
    "source_records",
    metadata,
    Column("source", Text, nullable=False),
    Column("source_id", Text, nullable=False),
    Column("customer_id", Text, nullable=False),
    PrimaryKeyConstraint("source", "source_id", name="pk_source_records"),
    Index("ix_source_records_customer_id", "customer_id"),
)

redirects = Table(
    "redirects",
    metadata,
    Column("from_id", Text, nullable=False),
    Column("to_id", Text, nullable=False,
           doc="Always a live customer id."),
    PrimaryKeyConstraint("from_id", name="pk_redirects"),
)

interactions = Table(
    "interactions",
    metadata,
    Column("customer_id", Text, nullable=False),
    Column("at", DateTime, doc="NULL when the silo's time could not be read (the event still counts)."),
    Column("source", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("interaction_id", Text, nullable=False),
    Column("amount", Float),
    Column("attributes", Text,
           doc="JSON object of the feed's kept attributes."),
    Index("ix_interactions_timeline", "customer_id", "at", "source", "name", "interaction_id"),
)

publish_log = Table(
    "publish_log",
    metadata,
    Column("version", Integer, autoincrement=False, nullable=False),
    Column("published_at", DateTime, nullable=False),
    Column("run_id", Text),
    Column("customers", Integer, nullable=False),
    Column("records", Integer, nullable=False),
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

PUBLISHED: tuple[Table, ...] = (profiles, search_keys, source_records, redirects, interactions, review_candidates)
"""The tables a publish replaces as a whole (publish_log is appended to; review_decisions belongs to the API)."""
