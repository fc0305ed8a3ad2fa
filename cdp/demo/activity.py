"""What customers do: invoices, orders and service tickets over the years, and who walks away.

Every person became a customer some time in the last twelve years (`since`, more of them
recently) and stays one, except the one in seven who left: their orders and invoices stop at
`until`, and those with a service record complained one to three times in the weeks after their
last purchase, then went quiet. Others complain now and then too, and stay. Each record gets
events at its person's own pace (a gamma-spread rate: a few heavy buyers, many occasional ones)
over the record's active window (a stale record's window ends when the household moved), with
amounts scaled by a per-person spend level. Events are numbered in time order within a feed.

A few events are planted flaws, like the records' (see flaws.py): an id that repeats an earlier
event's, a blank record key (both quarantined), a record key no record holds and an unreadable
time (both published, reported as attribute issues).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from cdp.demo.mess import chance, numbered, pick, strftime
from cdp.demo.population import REF, YEAR
from cdp.demo.silos import EPOCH

DAY = np.timedelta64(1, "D").astype("timedelta64[s]")
NOW = REF.astype("datetime64[s]") + np.timedelta64(17 * 3600, "s")  # the demo's last moment
LEFT_SHARE = 0.14
RATE = {"invoices": 0.45, "orders": 0.4, "tickets": 0.12}
"""Events per record and year at an average pace."""
COMPLAINT_SHARE = 0.08
"""Share of ordinary tickets that are complaints."""
CATEGORIES = {"Billing question": 22, "Delivery": 18, "Technical issue": 16, "Account change": 12,
              "Product question": 14, "Refund request": 8, "Password reset": 10}
COMPLAINTS = {"Complaint": 5, "complaint - billing": 2, "Complaint: delivery": 2, "Complaint: staff": 1,
              "COMPLAINT": 1}
UNREADABLE_TIME = "31/31/2020"


@dataclass(frozen=True)
class Customers:
    """Per person: when they became a customer, until when they bought, whether they left, pace and spend."""

    since: np.ndarray
    until: np.ndarray
    left: np.ndarray
    pace: np.ndarray
    spend: np.ndarray


@dataclass
class Events:
    """One interaction feed as written, with its planted flaws."""

    name: str
    key: str
    record_key: str
    at: str
    rows: pd.DataFrame
    issues: list[tuple[str, str, str, str]] = field(default_factory=list)
    """(event id, column, value as written, problem) of every planted flaw."""


def customers(rng: np.random.Generator, n: int) -> Customers:
    """The n people's customer lives: since when, until when, whether they left, their pace and spend."""
    years = 12 * rng.beta(1.2, 1.8, n)
    since = NOW - (years * YEAR * 86_400).astype("timedelta64[s]")
    left = chance(rng, n, LEFT_SHARE)
    span = (NOW - since).astype(np.int64)
    until = np.where(left, since + (span * rng.uniform(0.3, 1.0, n)).astype("timedelta64[s]"), NOW)
    return Customers(since, until, left, rng.gamma(1.5, 1 / 1.5, n), rng.lognormal(0, 0.5, n))


def _times(rng: np.random.Generator, who: Customers, person: np.ndarray, left_at: np.ndarray,
           rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Per event, the index of its record and its time: a Poisson count over each record's window."""
    start = np.maximum(who.since[person], EPOCH.astype("datetime64[s]"))
    end = who.until[person]
    moved = ~np.isnat(left_at)
    end = np.where(moved, np.minimum(end, left_at.astype("datetime64[s]")), end)
    span = np.maximum((end - start).astype(np.int64), 0)
    count = rng.poisson(rate * who.pace[person] * span / (YEAR * 86_400))
    record = np.repeat(np.arange(len(person)), count)
    return record, start[record] + (rng.random(record.size) * span[record]).astype("timedelta64[s]")


def _complaints(rng: np.random.Generator, who: Customers, person: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Complaints of the people who left, on their first record: weeks after their last purchase."""
    _, first = np.unique(person, return_index=True)
    first = first[who.left[person[first]]]
    record = np.repeat(first, rng.integers(1, 4, first.size))
    after = (rng.uniform(1, 60, record.size) * 86_400).astype("timedelta64[s]")
    return record, np.minimum(who.until[person[record]] + after, NOW)


def events(rng: np.random.Generator, name: str, who: Customers, person: np.ndarray, keys: np.ndarray,
           left_at: np.ndarray) -> Events:
    """The feed `name` (invoices, orders or tickets) of records with these people, keys and move dates."""
    record, at = _times(rng, who, person, left_at, RATE[name])
    complaint = chance(rng, record.size, COMPLAINT_SHARE if name == "tickets" else 0.0)
    if name == "tickets":
        extra, extra_at = _complaints(rng, who, person)
        record, at = np.concatenate([record, extra]), np.concatenate([at, extra_at])
        complaint = np.concatenate([complaint, np.ones(extra.size, bool)])
    order = np.argsort(at, kind="stable")
    record, at, complaint = record[order], at[order], complaint[order]
    spend = who.spend[person[record]]
    return FEEDS[name](rng, keys[record], at, spend, complaint)


def _invoices(rng: np.random.Generator, account: np.ndarray, at: np.ndarray, spend: np.ndarray,
              _complaint: np.ndarray) -> Events:
    n = len(at)
    amount = np.round(spend * rng.lognormal(4.3, 0.35, n), 2)
    credit = chance(rng, n, 0.02)
    recent = (NOW - at) < 45 * DAY
    status = np.array(["paid", "open", "overdue", "void"], dtype=object)[pick(rng, n, [0.95, 0.0, 0.04, 0.01])]
    status = np.where(recent & chance(rng, n, 0.6), "open", status)
    rows = pd.DataFrame({
        "invoice_id": np.arange(n) + 500_001, "account_id": account,
        "issued_on": strftime(at, "%Y-%m-%d"), "due_on": strftime(at + 30 * DAY, "%Y-%m-%d"),
        "amount": np.where(credit, -np.round(amount / 4, 2), amount),
        "status": np.where(credit, "credit", status),
    })
    return Events("invoices", "invoice_id", "account_id", "issued_on", rows)


def _money(rng: np.random.Generator, amount: np.ndarray) -> np.ndarray:
    """Amounts as a shop's export writes them: 129.99, some $1,234.50, refunds in brackets."""
    text = np.char.mod("%.2f", np.abs(amount)).astype(object)
    dollars = chance(rng, len(amount), 0.15)
    text[dollars] = pd.Series(np.abs(amount[dollars])).map("${:,.2f}".format).to_numpy(object)
    return np.where(amount < 0, "(" + text + ")", text)


def _orders(rng: np.random.Generator, contact: np.ndarray, at: np.ndarray, spend: np.ndarray,
            _complaint: np.ndarray) -> Events:
    n = len(at)
    items = 1 + rng.poisson(0.8, n)
    amount = np.round(spend * items * rng.lognormal(3.4, 0.7, n), 2)
    status = np.array(["completed", "cancelled", "returned"], dtype=object)[pick(rng, n, [0.93, 0.03, 0.04])]
    amount = np.where(status == "returned", -amount, np.where(status == "cancelled", 0.0, amount))
    rows = pd.DataFrame({
        "order_id": numbered("SO-", n, 8), "contact_id": contact, "ordered_at": strftime(at, "%m/%d/%Y %H:%M"),
        "amount": _money(rng, amount), "items": items,
        "channel": np.array(["web", "store", "app", "phone"], dtype=object)[pick(rng, n, [5, 3, 2, 1])],
        "status": status,
    })
    return Events("orders", "order_id", "contact_id", "ordered_at", rows)


def _tickets(rng: np.random.Generator, requester: np.ndarray, at: np.ndarray, _spend: np.ndarray,
             complaint: np.ndarray) -> Events:
    n = len(at)
    plain = np.array(list(CATEGORIES), dtype=object)[pick(rng, n, list(CATEGORIES.values()))]
    angry = np.array(list(COMPLAINTS), dtype=object)[pick(rng, n, list(COMPLAINTS.values()))]
    open_ = ((NOW - at) < 14 * DAY) & chance(rng, n, 0.7)
    rows = pd.DataFrame({
        "ticket_id": numbered("T-", n, 8), "requester_id": requester,
        "opened_at": strftime(at, "%Y-%m-%dT%H:%M:%SZ"),
        "category": np.where(complaint, angry, plain),
        "channel": np.array(["email", "phone", "chat", "web form"], dtype=object)[pick(rng, n, [4, 3, 2, 1])],
        "priority": np.where(complaint, "high", np.array(["low", "normal", "high"], dtype=object)[
            pick(rng, n, [3, 6, 1])]),
        "status": np.where(open_, "open", "closed"),
    })
    return Events("tickets", "ticket_id", "requester_id", "opened_at", rows)


FEEDS = {"invoices": _invoices, "orders": _orders, "tickets": _tickets}


def plant(rng: np.random.Generator, feed: Events, unknown_record: object) -> None:
    """An event id repeating an earlier one's, a blank record key, an unknown record key, an unreadable time."""
    rows = feed.rows
    if len(rows) < 10:
        return
    dup, blank, unknown, unreadable = rng.choice(np.arange(1, len(rows)), size=4, replace=False)
    cols = {c: rows.columns.get_loc(c) for c in (feed.key, feed.record_key, feed.at)}
    earlier = rows.iat[int(rng.integers(0, dup)), cols[feed.key]]
    planted = [(dup, feed.key, earlier, "repeated event id (an earlier event holds it)"),
               (blank, feed.record_key, None, "blank record key"),
               (unknown, feed.record_key, unknown_record, "record key no record holds"),
               (unreadable, feed.at, UNREADABLE_TIME, "unreadable time")]
    for row, column, value, problem in planted:
        event_id = rows.iat[row, cols[feed.key]] if column != feed.key else value
        rows.iat[row, cols[column]] = value
        feed.issues.append((str(event_id), column, "" if value is None else str(value), problem))
