"""The canonical attributes and the warehouse tables every stage reads and writes.

This module is the contract between the packages: ingestion writes `raw_*`, `staged`,
`interactions`, `quarantine` and `attribute_issues`; identity reads `staged` and writes the
identity tables; quality reads them all; publishing copies the golden side to the serving store.
"""

from __future__ import annotations

ATTRIBUTES: tuple[str, ...] = (
    "first_name", "middle_name", "last_name", "full_name",
    "email", "phone",
    "street", "city", "state", "postcode", "country",
    "birth_date", "tax_id",
)
"""Canonical attributes a source may map in `fields:`."""

PROFILE_ATTRIBUTES: tuple[str, ...] = tuple(a for a in ATTRIBUTES if a != "full_name")
"""Attributes of a golden profile (full_name is split into its parts during staging)."""

# Every raw_<source> and raw_<source>__<interaction> table carries the source's own columns
# (as VARCHAR) plus these bookkeeping columns.
RAW_META = ("_source", "_key", "_batch", "_row_number", "_row_hash", "_loaded_at")

# staged: one row per published source record, all sources unioned.
#   record_id VARCHAR          '<source>:<source_id>', unique
#   source VARCHAR, source_id VARCHAR, trust INTEGER, batch_id VARCHAR, row_hash VARCHAR,
#   loaded_at TIMESTAMP, updated_at TIMESTAMP (source's own, may be NULL)
#   first_name, middle_name, last_name        cleaned: upper-case ASCII letters, spaces, hyphens
#   name_suffix                               generational suffix kept apart: JR, SR, II, III, IV
#   first_name_root                           nickname folded to its canonical form (BOB -> ROBERT)
#   email, phone (E.164), street, city, state, postcode, country (ISO-2), tax_id (digits)
#   birth_date DATE
#   <attr>_raw VARCHAR for every attribute in ATTRIBUTES: the value as the source sent it (NULL if unmapped)
# staged_<source> has the same columns, for one source; `staged` is a view: their union.
STAGED = "staged"

# interactions (view over interactions_<source>): source, name, interaction_id, source_id, record_id,
#   at TIMESTAMP, amount DOUBLE, attributes JSON
INTERACTIONS = "interactions"

# quarantine, attribute_issues and load_log name a feed in `source`: the source ('sales') for its
# records, '<source>__<interaction>' ('sales__orders') for an interaction feed, as in raw_table().
# quarantine: source, source_id (NULL when blank), row_number, batch_id, reason, raw JSON, at TIMESTAMP
#   (the latest load of each feed; an unreadable row's raw is {"_line": <its text>})
QUARANTINE = "quarantine"

# attribute_issues: source, source_id, field, value, reason, batch_id   (latest staging of each feed)
ATTRIBUTE_ISSUES = "attribute_issues"

# load_log: source, batch_id, rows_in, rows_published, rows_quarantined, rows_new, rows_changed,
#   rows_vanished, loaded_at TIMESTAMP          (one row per feed and load, kept; new/changed/vanished
#   compare keys and row hashes with the snapshot the load replaced)
LOAD_LOG = "load_log"

# Identity (see identity/):
#   match_pairs: record_id_l, record_id_r, match_probability, match_weight, explanation JSON
#       (record_id_l < record_id_r; explanation: [{comparison, level, weight}, ...] in model order)
#   clusters: record_id, cluster_id       (every staged record; cluster_id = smallest record_id in it)
#   record_customer: record_id, customer_id           (the crosswalk, by record)
#   customers: customer_id, created_run, size
#   id_history: run_id, at, event ('new'|'merge'|'split'|'gone'), customer_id, other_id, detail
#       (merge: customer_id absorbed other_id; split: records of customer_id moved to other_id;
#        gone: customer_id has no records left)
#   id_redirects: from_id, to_id, run_id     (to_id is always a live customer id)
#   id_counter: last_number               (one row: the last number issued; ids are never reused)
#   golden: customer_id, <PROFILE_ATTRIBUTES...>
#   lineage: customer_id, attribute, value, source, source_id, rule
#   crosswalk (view): source, source_id, customer_id
#   review_candidates: candidate_id, record_id_l, record_id_r, match_probability, explanation JSON,
#       status ('open'|'decided')
#   steward_decisions: record_id_l, record_id_r, decision ('match'|'no_match'), who, note, at
MATCH_PAIRS = "match_pairs"
CLUSTERS = "clusters"
RECORD_CUSTOMER = "record_customer"
CUSTOMERS = "customers"
ID_HISTORY = "id_history"
ID_REDIRECTS = "id_redirects"
ID_COUNTER = "id_counter"
GOLDEN = "golden"
LINEAGE = "lineage"
CROSSWALK = "crosswalk"
REVIEW_CANDIDATES = "review_candidates"
STEWARD_DECISIONS = "steward_decisions"

# traits: customer_id, lifetime_value, order_count, invoice_count, ticket_count, first_seen, last_seen,
#   tickets_90d, complaints_90d, recency_tier, frequency_tier, monetary_tier, loyalty, churn_risk
TRAITS = "traits"

# quality_history: run_id, at TIMESTAMP, metric VARCHAR, value DOUBLE   (written by quality/: the identity
#   figures of each run, kept; a run compares its customer count and match rate with the latest other run)
QUALITY_HISTORY = "quality_history"


def raw_table(source: str, interaction: str | None = None) -> str:
    """Name of the raw table of a source, or of one of its interaction feeds."""
    return f"raw_{source}" + (f"__{interaction}" if interaction else "")
