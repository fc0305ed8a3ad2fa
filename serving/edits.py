"""Stewards' merges and splits of customers, recorded as decisions on pairs of records that later runs honour.

A merge is must-links (decision 'match') from one record of the first customer to one record of each
other: clustering unions must-links before anything else, so the customers become one. A split is
cannot-links ('no_match') between each chosen record and each record left behind, and must-links among
the chosen ones, so they come out together as one new customer. Both write `review_decisions` rows and
audit rows in one transaction, as a decision on a candidate does (api.review_desk); the next run's
`steward_decisions` asset carries them into the warehouse. The published customers change at that run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Literal

import sqlalchemy as sa

from serving import audit
from serving.tables import redirects, review_decisions, source_records

Decision = Literal["match", "no_match"]


class NotLive(LookupError):
    """A customer id that is not live: unknown, or merged into `survivor`."""

    def __init__(self, customer_id: str, survivor: str | None) -> None:
        self.customer_id = customer_id
        self.survivor = survivor
        merged = f" (it was merged into {survivor!r}; merge or split that one)" if survivor else ""
        super().__init__(f"no customer {customer_id!r}{merged}")


class NotSplittable(ValueError):
    """A split the customer's records do not allow: a record not the customer's, or all of its records."""


@dataclass(frozen=True)
class Link:
    """One decision written: a pair of record ids ('<source>:<source_id>', left < right) and the decision."""

    record_id_l: str
    record_id_r: str
    decision: Decision


@dataclass(frozen=True)
class Edit:
    """What a merge or split recorded."""

    links: list[Link]
    audit_ids: list[int]
    at: dt.datetime


def candidate_id(record_id_l: str, record_id_r: str) -> str:
    """identity.review.CANDIDATE_ID in Python: a decided pair that is also in the review queue shows as decided."""
    return hashlib.md5(f"{record_id_l}|{record_id_r}".encode()).hexdigest()[:16]


def link(a: str, b: str, decision: Decision) -> Link:
    """A decision on the pair {a, b}, ordered as the warehouse orders pairs (each pair's latest decision counts)."""
    return Link(min(a, b), max(a, b), decision)


def merge(engine: sa.Engine, customer_ids: list[str], who: str, note: str | None) -> Edit:
    """Record that these live customers (two or more, distinct) are one: a must-link from the first customer's
    first record to each other customer's; one audit row per customer merged into the first.

    `engine` must begin real transactions (serving.audit.write_engine). NotLive for an id that is not live.
    """
    at = audit.now()
    with engine.begin() as conn:
        held = [_records(conn, customer_id) for customer_id in customer_ids]
        links = [link(held[0][0], records[0], "match") for records in held[1:]]
        _decide(conn, links, who, note, at)
        audit_ids = [audit.record(conn, "merge", who, customer_id=customer_ids[0], other_customer_id=other,
                                  detail=f"must-link {x.record_id_l} = {x.record_id_r}", note=note, at=at)
                     for other, x in zip(customer_ids[1:], links, strict=True)]
    return Edit(links, audit_ids, at)


def split(engine: sa.Engine, customer_id: str, chosen: list[str], who: str, note: str | None) -> Edit:
    """Record that the `chosen` records (distinct record ids) of a live customer are a person of their own:
    cannot-links to each record left behind, must-links among them; one audit row.

    NotLive for an id that is not live; NotSplittable naming a record that is not the customer's, or when
    nothing would be left behind.
    """
    at = audit.now()
    with engine.begin() as conn:
        held = _records(conn, customer_id)
        strangers = [r for r in chosen if r not in held]
        if strangers:
            raise NotSplittable(f"record {_shown(strangers[0])} is not one of customer {customer_id!r}'s records")
        rest = [r for r in held if r not in chosen]
        if not rest:
            raise NotSplittable(f"those are all of customer {customer_id!r}'s records: nothing would be left behind")
        links = ([link(c, r, "no_match") for c in chosen for r in rest]
                 + [link(chosen[0], c, "match") for c in chosen[1:]])
        _decide(conn, links, who, note, at)
        audit_id = audit.record(conn, "split", who, customer_id=customer_id,
                                detail="split out " + ", ".join(_shown(r) for r in chosen), note=note, at=at)
    return Edit(links, [audit_id], at)


def _records(conn: sa.Connection, customer_id: str) -> list[str]:
    """A live customer's record ids, sorted; NotLive when it has none."""
    sr = source_records.c
    rows = conn.execute(sa.select(sr.source, sr.source_id).where(sr.customer_id == customer_id)).all()
    if rows:
        return sorted(f"{r.source}:{r.source_id}" for r in rows)
    survivor = conn.execute(sa.select(redirects.c.to_id).where(redirects.c.from_id == customer_id)).scalar()
    raise NotLive(customer_id, survivor)


def _decide(conn: sa.Connection, links: list[Link], who: str, note: str | None, at: dt.datetime) -> None:
    conn.execute(sa.insert(review_decisions), [
        {"candidate_id": candidate_id(x.record_id_l, x.record_id_r), "record_id_l": x.record_id_l,
         "record_id_r": x.record_id_r, "decision": x.decision, "who": who, "note": note, "at": at} for x in links])


def _shown(record_id: str) -> str:
    """A record id as the API names records: source/source_id."""
    return record_id.replace(":", "/", 1)
