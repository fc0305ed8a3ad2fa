"""Response models: the shapes the API documents in OpenAPI.

Profiles are sent as the JSON text the publish step stored, without validating it against
`Profile` on every request; the model documents that text's shape (publish builds it).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field


class Attributes(BaseModel):
    """Golden values of a customer (standardised; emails, phones and tax ids masked for readers without pii)."""

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
    birth_date: str | None = Field(None, description="ISO date")
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


class Traits(BaseModel):
    """Behaviour computed from the customer's interactions in every silo."""

    lifetime_value: float | None = None
    order_count: int | None = None
    invoice_count: int | None = None
    ticket_count: int | None = None
    first_seen: str | None = None
    last_seen: str | None = None
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
    attributes: Attributes
    lineage: dict[str, Lineage] = Field(description="attribute -> the source record that gave its value")
    sources: list[SourceRef]
    traits: Traits


class ProfilePage(BaseModel):
    """One page of profiles; pass `next_cursor` as `cursor` for the next (null on the last page)."""

    items: list[Profile]
    next_cursor: str | None


class Interaction(BaseModel):
    """One event from a silo (an order, invoice, ticket...)."""

    at: dt.datetime | None = Field(description="null when the silo's time could not be read")
    source: str
    name: str = Field(description="the interaction feed, e.g. orders, invoices, tickets")
    interaction_id: str
    amount: float | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)


class TimelinePage(BaseModel):
    """A page of a customer's interactions, newest first; pass `next_cursor` as `cursor` for the next."""

    items: list[Interaction]
    next_cursor: str | None


class Health(BaseModel):
    """Liveness and the published version being served."""

    status: str = Field(description="ok, or empty when nothing has been published yet")
    version: int | None = None
    published_at: dt.datetime | None = None
    customers: int | None = None
    records: int | None = None
