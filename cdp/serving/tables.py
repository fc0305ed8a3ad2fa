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

PUBLISHED: tuple[Table, ...] = (profiles, search_keys, source_records, redirects, interactions)
"""The tables a publish replaces as a whole (publish_log is appended to instead)."""
