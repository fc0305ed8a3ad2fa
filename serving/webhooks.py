"""Webhooks: the change feed's events POSTed to the endpoints of cdp.yaml's `webhooks:`, signed, in order.

Each endpoint receives the events of its types in event-id order, one JSON event (as GET /changes answers it)
per request, with the header `X-CDP-Signature: t=UNIX_SECONDS,v1=HEX`, HEX the HMAC-SHA256 of `"{t}." + body`
under the endpoint's secret (from the environment). Every attempt is a row of `webhook_attempts`: an endpoint
has received every event up to its latest delivered one, so a pass, after a restart too, starts after it.

A failed event is tried again at once with a doubling pause, while the pass's time lasts; then the endpoint
waits for the next pass (the next run's `webhooks` asset, or `cdp webhooks deliver`), and its later events
wait behind it: a customer's events never arrive out of order. Delivery is at least once (an answer lost
after the receiver took the event means it comes again): receivers de-duplicate by `event_id`. Endpoints are
served side by side, each within the pass's time budget, so a slow or dead receiver holds up nothing else.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from cdp.config import WebhookConfig
from serving.audit import now, write_engine
from serving.changes import read_changes
from serving.tables import changes, webhook_attempts

SIGNATURE_HEADER = "X-CDP-Signature"
BATCH = 100
"""Events read from the outbox at a time."""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The X-CDP-Signature value of a body sent at `timestamp` (Unix seconds)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def body_of(event: dict[str, Any], pii: bool) -> bytes:
    """The JSON a delivery sends: the feed's event, an update's values left out unless the endpoint takes PII."""
    sent = event if pii else {k: v for k, v in event.items() if k != "attributes"}
    return json.dumps(sent, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class EndpointStatus:
    """Where one endpoint stands: events delivered and pending, failed attempts since the last delivery."""

    url: str
    delivered: int
    pending: int
    failing: int
    """Failed attempts since the latest delivery (0: healthy)."""
    last_error: str | None
    """The latest attempt's error, while failing."""


def deliver(url: str, hooks: Sequence[WebhookConfig], budget: float = 30.0,
            backoff: float = 0.5) -> list[EndpointStatus]:
    """One delivery pass over every endpoint, side by side, within `budget` seconds; returns where each stands.

    Never raises for a receiver's failure (it is recorded); an event tried in vain is tried again after
    `backoff` seconds, then twice that, while the budget lasts.
    """
    # Reads on an engine of their own: on SQLite the write engine's transactions take the write lock at once.
    reads, writes = sa.create_engine(url), write_engine(url)
    try:
        if not sa.inspect(reads).has_table(changes.name):
            return [EndpointStatus(hook.url, 0, 0, 0, None) for hook in hooks]
        deadline = time.monotonic() + budget
        with ThreadPoolExecutor(max(1, len(hooks)), thread_name_prefix="webhook") as pool:
            list(pool.map(lambda hook: _serve(reads, writes, hook, deadline, backoff), hooks))
        return _statuses(reads, hooks)
    finally:
        reads.dispose()
        writes.dispose()


def status(url: str, hooks: Sequence[WebhookConfig]) -> list[EndpointStatus]:
    """Where each endpoint stands, from the recorded attempts."""
    engine = sa.create_engine(url)
    try:
        if not sa.inspect(engine).has_table(changes.name):
            return [EndpointStatus(hook.url, 0, 0, 0, None) for hook in hooks]
        return _statuses(engine, hooks)
    finally:
        engine.dispose()


def _serve(reads: sa.Engine, writes: sa.Engine, hook: WebhookConfig, deadline: float, backoff: float) -> None:
    """Send the endpoint's undelivered events in order until none is left, one fails for good or time is up."""
    secret = os.environ.get(hook.secret_env)
    while time.monotonic() < deadline:
        with reads.connect() as conn:
            events = read_changes(conn, _delivered_through(conn, hook.url), hook.events, BATCH)
        if not events:
            return
        for event in events:
            if not _send_with_retries(writes, hook, secret, event, deadline, backoff):
                return


def _send_with_retries(engine: sa.Engine, hook: WebhookConfig, secret: str | None, event: dict[str, Any],
                       deadline: float, backoff: float) -> bool:
    """Attempt one event until delivered or out of time, pausing `backoff`, doubled each time, in between."""
    pause = backoff
    while time.monotonic() < deadline:
        error, code = _post(hook, secret, event, min(hook.timeout, max(deadline - time.monotonic(), 0.1)))
        _record(engine, hook.url, event["event_id"], code, error)
        if error is None:
            return True
        if time.monotonic() + pause >= deadline:
            return False
        time.sleep(pause)
        pause *= 2
    return False


def _post(hook: WebhookConfig, secret: str | None, event: dict[str, Any],
          timeout: float) -> tuple[str | None, int | None]:
    """POST one event; (None, status) when the receiver took it (2xx), else (why not, status or None)."""
    if not secret:
        return f"environment variable {hook.secret_env} (secret_env) is not set: nothing is sent unsigned", None
    body = body_of(event, hook.pii)
    request = urllib.request.Request(hook.url, data=body, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": "cdp-webhooks",
        SIGNATURE_HEADER: sign(secret, int(time.time()), body), "X-CDP-Event-Id": str(event["event_id"])})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return None, answer.status
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code} {exc.reason}", exc.code
    except (OSError, ValueError) as exc:  # refused, unreachable, timed out, a bad answer
        return f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}", None


def _record(engine: sa.Engine, endpoint: str, event_id: int, code: int | None, error: str | None) -> None:
    with engine.begin() as conn:
        conn.execute(sa.insert(webhook_attempts).values(endpoint=endpoint, event_id=event_id, at=now(), status=code,
                                                        error=error))


def _delivered_through(conn: sa.Connection, endpoint: str) -> int:
    """The id of the endpoint's latest delivered event (0: none yet)."""
    a = webhook_attempts.c
    latest = sa.select(sa.func.coalesce(sa.func.max(a.event_id), 0)).where(a.endpoint == endpoint, a.error.is_(None))
    return int(conn.execute(latest).scalar_one())


def _statuses(engine: sa.Engine, hooks: Sequence[WebhookConfig]) -> list[EndpointStatus]:
    a = webhook_attempts.c
    out = []
    with engine.connect() as conn:
        for hook in hooks:
            through = _delivered_through(conn, hook.url)
            mine = a.endpoint == hook.url
            delivered = conn.execute(sa.select(sa.func.count(sa.distinct(a.event_id))).where(mine, a.error.is_(None)))
            pending = conn.execute(sa.select(sa.func.count()).select_from(changes)
                                   .where(changes.c.event_id > through, changes.c.type.in_(hook.events)))
            last_ok = (sa.select(sa.func.coalesce(sa.func.max(a.attempt_id), 0)).where(mine, a.error.is_(None))
                       .scalar_subquery())
            since_ok = (mine, a.attempt_id > last_ok)
            failing = int(conn.execute(sa.select(sa.func.count()).where(*since_ok)).scalar_one())
            error = conn.execute(sa.select(a.error).where(*since_ok).order_by(a.attempt_id.desc()).limit(1)).scalar()
            out.append(EndpointStatus(hook.url, int(delivered.scalar_one()), int(pending.scalar_one()), failing,
                                      error))
    return out
