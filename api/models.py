"""Response models: the shapes the API documents in OpenAPI.

Profiles are sent as the JSON text the publish step stored, without validating it against
`Profile` on every request; the model documents that text's shape (publish builds it).
Every time is answered in RFC 3339 with its zone, `2026-11-30T12:00:00Z`.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, field_validator


def as_utc(value: dt.datetime) -> dt.datetime:
    """A time without a zone taken as UTC (what the stores hold), so that it is written out with `Z`."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


Timestamp = Annotated[dt.datetime, AfterValidator(as_utc)]
"""A time answered in RFC 3339 with its zone; the stores keep UTC without one."""


class Attributes(BaseModel):
    """Golden values of a customer (standardised; the `api.pii` attributes masked for readers without pii)."""

    first_name: str | None = None
    middle_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = Field(None, description="E.164")
    street: str | None = None
    city: str | None = None
    state: str | None = None
    postcode: str | None = None
    country: str | None = Field(None, description="ISO 3166 alpha-2")
    birth_date: str | None = Field(None, description="ISO date (`1984-**-**` masked)")
    tax_id: str | None = None


class Lineage(BaseModel):
    """Which source record gave a golden value, and the survivorship rule that chose it."""

    source: str
    source_id: str
    rule: str | None = None


class SourceRef(BaseModel):
    """One source record of a customer."""

    source: str
    source_id: str
    values: dict[str, str] = Field(default_factory=dict,
                                   description="the record's mapped attributes as the source sent them (empty ones "
                                               "left out; the `api.pii` ones masked for readers without pii)")


class Traits(BaseModel):
    """Behaviour computed from the customer's interactions in every silo."""

    lifetime_value: float | None = None
    order_count: int | None = None
    invoice_count: int | None = None
    ticket_count: int | None = None
    first_seen: str | None = Field(None, description="RFC 3339, UTC")
    last_seen: str | None = Field(None, description="RFC 3339, UTC")
    tickets_90d: int | None = None
    complaints_90d: int | None = None
    recency_tier: str | None = Field(None, description="high | mid | low")
    frequency_tier: str | None = Field(None, description="high | mid | low")
    monetary_tier: str | None = Field(None, description="high | mid | low")
    loyalty: str | None = Field(None, description="long_valuable | short_valuable | long_low_value | short_low_value")
    churn_risk: bool | None = None


class Profile(BaseModel):
    """A golden customer profile: the 360° view of one person."""

    customer_id: str
    attributes: Attributes = Field(description="the golden values in their standardised (match-key) form")
    display: Attributes = Field(description="the same values as people write them: 'McDonald', '7323 E Chestnut St', "
                                            "'+1 555-010-0100'")
    lineage: dict[str, Lineage] = Field(description="attribute -> the source record that gave its value")
    sources: list[SourceRef]
    traits: Traits


class ProfilePage(BaseModel):
    """One page of profiles; pass `next_cursor` as `cursor` for the next (null on the last page)."""

    items: list[Profile]
    next_cursor: str | None


class Interaction(BaseModel):
    """One event from a silo (an order, invoice, ticket...)."""

    at: Timestamp | None = Field(description="as the silo recorded it, read as UTC; null when it could not be read")
    source: str
    name: str = Field(description="the interaction feed, e.g. orders, invoices, tickets")
    interaction_id: str
    amount: float | None = None
    attributes: dict[str, Any] = Field(default_factory=dict, description="the feed's columns as sent (one named "
                                                                        "like an `api.pii` attribute masked for "
                                                                        "readers without pii)")


class TimelinePage(BaseModel):
    """A page of a customer's interactions, newest first; pass `next_cursor` as `cursor` for the next."""

    items: list[Interaction]
    next_cursor: str | None


class Problem(BaseModel):
    """Why a request was not answered."""

    detail: str


class Health(BaseModel):
    """Liveness and the published version being served."""

    status: str = Field(description="ok, or empty when nothing has been published yet")
    detail: str | None = Field(default=None, description="what to do when the status is empty")
    version: int | None = None
    published_at: Timestamp | None = None
    customers: int | None = None
    records: int | None = None


class ReviewRecord(BaseModel):
    """One side of a review candidate: the source record and its standardised values (unmasked)."""

    source: str
    source_id: str
    first_name: str | None = None
    middle_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    street: str | None = None
    city: str | None = None
    state: str | None = None
    postcode: str | None = None
    country: str | None = None
    birth_date: str | None = Field(None, description="ISO date")
    tax_id: str | None = None


class Evidence(BaseModel):
    """How one comparison of the model judged the pair."""

    comparison: str = Field(description="the attribute (or attribute group) compared, e.g. first_name")
    level: str = Field(description="how they compared, e.g. 'exact match', 'same nickname root', 'missing'")
    weight: float | None = Field(description="match weight (log2 Bayes factor): > 0 speaks for a match, < 0 against")


class DecisionIn(BaseModel):
    """A steward's decision on a candidate pair."""

    decision: Literal["match", "no_match"] = Field(
        description="match: the two records are one person (a must-link); no_match: never put them together")
    note: str | None = Field(None, max_length=2000, description="why, for the next steward")


class Decision(BaseModel):
    """A recorded decision: what, by whom (the key's name) and when (UTC)."""

    decision: Literal["match", "no_match"]
    who: str
    note: str | None = None
    at: Timestamp


class RecordedDecision(Decision):
    """The answer to a decision: recorded, to be honoured by the next run."""

    decision_id: int
    candidate_id: str


class ReviewCandidate(BaseModel):
    """A pair of records the model was unsure about, or a link the clustering guards refused."""

    candidate_id: str = Field(description="stable: the same pair keeps its id across runs")
    status: Literal["open", "decided"]
    match_probability: float
    left: ReviewRecord
    right: ReviewRecord
    explanation: list[Evidence] = Field(description="per comparison, in model order")
    decision: Decision | None = Field(description="the latest decision, null while open")


class CandidatePage(BaseModel):
    """A page of the review queue, most likely matches first; pass `next_cursor` as `cursor` for the next."""

    items: list[ReviewCandidate]
    next_cursor: str | None


class MergeIn(BaseModel):
    """Customers a steward knows to be one person."""

    customer_ids: list[str] = Field(min_length=2, max_length=20, description="live customer ids, distinct; the "
                                                                             "others are merged into the first")
    note: str | None = Field(None, max_length=2000, description="why, for the next steward")

    @field_validator("customer_ids")
    @classmethod
    def _distinct(cls, ids: list[str]) -> list[str]:
        if len(set(ids)) < len(ids):
            raise ValueError("the same customer id is given twice")
        return ids


class RecordRef(BaseModel):
    """A source record, by its source and its key there."""

    source: str = Field(max_length=200)
    source_id: str = Field(max_length=1000)


class SplitIn(BaseModel):
    """Records of a customer that belong to another person."""

    records: list[RecordRef] = Field(min_length=1, max_length=1000,
                                     description="records of the customer, not all of them: they become one new "
                                                 "customer")
    note: str | None = Field(None, max_length=2000, description="why, for the next steward")

    @field_validator("records")
    @classmethod
    def _distinct(cls, records: list[RecordRef]) -> list[RecordRef]:
        if len({(r.source, r.source_id) for r in records}) < len(records):
            raise ValueError("the same record is given twice")
        return records


class RecordedLink(BaseModel):
    """A decision on a pair of records written by a merge or split: `match` a must-link, `no_match` a cannot-link."""

    left: RecordRef
    right: RecordRef
    decision: Literal["match", "no_match"]


class RecordedEdit(BaseModel):
    """The answer to a merge or split: the decisions recorded; the published customers change at the next run."""

    action: Literal["merge", "split"]
    customer_ids: list[str] = Field(description="the customers merged (the first survives), or the one split")
    decisions: list[RecordedLink]
    who: str
    note: str | None = None
    at: Timestamp
    audit_ids: list[int]
    applies: Literal["next run"] = Field(
        default="next run", description="the next `cdp run` applies it and every later run keeps it; until then the "
                                        "customers are served as they were")


class AuditEntry(BaseModel):
    """One audited action: who did it (the key's name, never the key), when, what, to whom, and why."""

    audit_id: int
    at: dt.datetime = Field(description="RFC 3339, UTC")
    who: str
    action: Literal["decision", "erasure", "merge", "split"]
    customer_id: str | None = Field(None, description="the customer acted on (a decision: the left record's; a "
                                                      "merge: the survivor)")
    other_customer_id: str | None = Field(None, description="a decision: the right record's customer; a merge: "
                                                            "the customer merged into customer_id")
    candidate_id: str | None = Field(None, description="a decision's review candidate")
    detail: str | None = Field(None, description="a decision: match | no_match; a merge: the must-link; a split: "
                                                 "the records split out; an erasure says nothing of what was "
                                                 "erased")
    note: str | None = None


class AuditPage(BaseModel):
    """A page of the audit trail, newest first; pass `next_cursor` as `cursor` for the next."""

    items: list[AuditEntry]
    next_cursor: str | None


class Erasure(BaseModel):
    """The answer to an erasure."""

    customer_id: str
    records: int = Field(description="source records erased and put on the suppression list")
    warehouse: Literal["erased", "pending"] = Field(
        description="erased: gone from the warehouse too; pending: a run holds the warehouse, and the next run "
                    "takes the records out before loading anything")
    audit_id: int


class ExportedDecision(BaseModel):
    """A steward's decision on a pair involving one of the person's records."""

    decision_id: int
    candidate_id: str
    decision: Literal["match", "no_match"]
    who: str
    note: str | None = None
    at: dt.datetime


class SentRecord(BaseModel):
    """A source record's whole row, every column as the source sent it (the warehouse's raw table)."""

    source: str
    source_id: str
    row: dict[str, Any]


class CustomerLink(BaseModel):
    """A scored link between two of a customer's records: each record's strongest one inside the customer."""

    left: RecordRef
    right: RecordRef
    match_probability: float
    explanation: list[Evidence] = Field(description="per comparison, in model order")


class CustomerExport(BaseModel):
    """Everything held about a person, for an access request."""

    customer_id: str
    exported_at: dt.datetime = Field(description="RFC 3339, UTC")
    profile: Profile = Field(description="golden values, lineage, every source record with its values as sent, "
                                         "traits (unmasked)")
    records_as_sent: list[SentRecord] | None = Field(
        description="each source record's whole row as landed, unmapped columns too; null while a run holds the "
                    "warehouse (ask again after it)")
    timeline: list[Interaction] = Field(description="every interaction from every silo, newest first")
    links: list[CustomerLink] = Field(description="the scored links that hold the person's records together")
    review_candidates: list[ReviewCandidate] = Field(description="queued pairs involving the person's records")
    decisions: list[ExportedDecision] = Field(description="stewards' decisions on pairs involving them, oldest first")
    audit: list[AuditEntry] = Field(description="audit entries about the customer, newest first")


class ChangeEvent(BaseModel):
    """One change a publish (or an erasure) made; a webhook delivery's body is one of these."""

    event_id: int = Field(description="increasing; the same event keeps its id on every read and every delivery "
                                      "(de-duplicate by it)")
    type: str = Field(description="customer.created | customer.merged | customer.split | customer.removed (its records "
                                  "left every source) | customer.erased | customer.updated | segment.entered:NAME | "
                                  "segment.left:NAME")
    customer_id: str = Field(description="the customer changed (a merge: the survivor)")
    version: int | None = Field(description="the published version that made the change (an erasure: the version "
                                            "it was made in)")
    at: Timestamp
    merged_ids: list[str] | None = Field(None, description="customer.merged: the ids merged into customer_id")
    split_ids: list[str] | None = Field(None, description="customer.split: the customers that took records of it")
    changed: list[str] | None = Field(None, description="customer.updated: the golden attributes that changed")
    attributes: dict[str, Any] | None = Field(None, description="customer.updated: their new values (the `api.pii` "
                                                                "ones masked for readers without pii; absent once "
                                                                "the customer is erased)")


class ChangePage(BaseModel):
    """Changes in order; pass `next_cursor` as `since` for the ones after (it stays the same while none came)."""

    items: list[ChangeEvent]
    next_cursor: str | None
