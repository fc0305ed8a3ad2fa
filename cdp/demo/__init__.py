"""`cdp demo`: realistic, messy customer silos with their interactions, a cdp.yaml and the truth.

    write_demo(out, people=2000, seed=7)  ->  out/cdp.yaml

Writes into `out`:
- `finance.db`: SQLite, tables `accounts` (billing names as "SMITH, JOHN A", SSNs, ISO birth
  dates) and `invoices`;
- `sales_contacts.csv` (nicknames, US dates, a line with surplus fields) and `sales_orders.csv`;
- `service_requesters.jsonl` (one name field, an email, a line that is not JSON) and
  `service_tickets.csv` (categories, some of them complaints);
- `cdp.yaml` reading them all by absolute paths (a copy of it elsewhere still finds the data);
- `truth.csv`: `source,source_id,person_id` for exactly the records ingestion publishes;
- `flaws.csv`: `source,source_id,column,value,problem` for every planted flaw.

The same people (population.py, contacts.py) appear in one to three silos, written each silo's
way (silos.py, mess.py), with planted bad rows and values (flaws.py) and their events
(activity.py). A seed gives the same files on any day and machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from cdp.config import DEFAULT_SERVING, DEFAULT_WAREHOUSE, resolve_sqlite_url
from cdp.demo import activity, files, flaws, mess
from cdp.demo.contacts import contacts
from cdp.demo.population import Population, population
from cdp.demo.silos import STALE, WRITERS, appearances, context
from cdp.demo.vocab import Vocab, vocab
from cdp.schema import feed_name

KEYS = {"finance": "account_id", "sales": "contact_id", "service": "requester_id"}
FEEDS = {"finance": "invoices", "sales": "orders", "service": "tickets"}
JUNK_COLUMNS = {
    "finance": {"email": "email", "phone": "phone", "tax_id": "tax_id", "birth_date": "date_of_birth"},
    "sales": {"email": "email", "phone": "mobile", "birth_date": "birth_date"},
    "service": {"email": "email", "phone": "phone"},
}
UNKNOWN_RECORD: dict[str, object] = {"finance": 99_999_999, "sales": "C9999998", "service": "R-9999999"}
"""A record key no record holds, for the planted orphan event of each feed."""

SOURCES: dict[str, dict[str, Any]] = {
    "finance": {
        "connector": "sql", "url": "sqlite:///finance.db", "table": "accounts", "key": "account_id", "trust": 3,
        "country": "US", "updated_at": "last_modified", "watermark": "last_modified",
        "fields": {"full_name": "account_name", "email": "email", "phone": "phone", "street": "billing_street",
                   "city": "billing_city", "state": "billing_state", "postcode": "billing_zip",
                   "tax_id": "tax_id", "birth_date": "date_of_birth"},
        "formats": {"birth_date": "%Y-%m-%d", "updated_at": "%Y-%m-%d %H:%M:%S"},
        "interactions": [{
            "name": "invoices", "connector": "sql", "url": "sqlite:///finance.db", "table": "invoices",
            "key": "invoice_id", "watermark": "invoice_id", "record_key": "account_id", "at": "issued_on",
            "amount": "amount",
            "attributes": ["due_on", "status"], "formats": {"at": "%Y-%m-%d"},
        }],
    },
    "sales": {
        "connector": "csv", "path": "sales_contacts.csv", "key": "contact_id", "trust": 2, "country": "US",
        "updated_at": "updated_at",
        "fields": {"first_name": "first_name", "last_name": "last_name", "email": "email", "phone": "mobile",
                   "street": "street", "city": "city", "state": "state", "postcode": "zip",
                   "birth_date": "birth_date"},
        "formats": {"birth_date": "%m/%d/%Y", "updated_at": "%Y-%m-%d %H:%M:%S"},
        "interactions": [{
            "name": "orders", "connector": "csv", "path": "sales_orders.csv", "key": "order_id",
            "record_key": "contact_id", "at": "ordered_at", "amount": "amount",
            "attributes": ["items", "channel", "status"], "formats": {"at": "%m/%d/%Y %H:%M"},
        }],
    },
    "service": {
        "connector": "jsonl", "path": "service_requesters.jsonl", "key": "requester_id", "trust": 1,
        "country": "US", "updated_at": "updated_at",
        "fields": {"full_name": "name", "email": "email", "phone": "phone", "postcode": "zip"},
        "interactions": [{
            "name": "tickets", "connector": "csv", "path": "service_tickets.csv", "key": "ticket_id",
            "record_key": "requester_id", "at": "opened_at", "attributes": ["category", "channel", "priority",
                                                                              "status"],
        }],
    },
}
"""The demo's cdp.yaml sources, paths and the SQLite URL relative to the demo folder (see `_located`)."""
CHUNK = 200_000
"""Records a silo writer formats at a time."""
HEADER = "# Written by `cdp demo`: three silos of the same people. Run: cdp run --config <this file>\n"


def _keys(source: str, n: int) -> np.ndarray:
    """Record keys in row order: account numbers in finance, C0000001 in sales, R-0000001 in service."""
    if source == "finance":
        return (np.arange(n) + 100_001).astype(object)
    prefix = "C" if source == "sales" else "R-"
    return mess.numbered(prefix, n, 7)


def _write(out: Path, silo: flaws.Silo, feed: activity.Events) -> None:
    if silo.name == "finance":
        files.write_sqlite(out / "finance.db", {
            "accounts": (silo.rows, {"account_id": "INTEGER"}),
            "invoices": (feed.rows, {"invoice_id": "INTEGER", "account_id": "INTEGER", "amount": "REAL"}),
        })
    elif silo.name == "sales":
        files.write_csv(out / "sales_contacts.csv", silo)
        files.write_csv(out / "sales_orders.csv", feed)
    else:
        files.write_jsonl(out / "service_requesters.jsonl", silo)
        files.write_csv(out / "service_tickets.csv", feed)


@dataclass(frozen=True)
class World:
    """What every silo is drawn from: the people, the word lists, and what the people do."""

    pop: Population
    words: Vocab
    who: activity.Customers


def _silo(rng: np.random.Generator, out: Path, name: str, person: np.ndarray, second: np.ndarray,
          world: World) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Write one silo and its feed; return its truth and its planted flaws."""
    written, left_at = [], []
    for part in np.array_split(np.arange(len(person)), -(-len(person) // CHUNK)):  # bounds the scratch columns
        ctx = context(rng, world.pop, world.words, person[part], second[part], STALE[name])
        written.append(WRITERS[name](rng, ctx))
        left_at.append(ctx["left_at"].to_numpy())
    rows = pd.concat(written, ignore_index=True)
    silo = flaws.keyed(name, KEYS[name], rows, person, _keys(name, len(person)))
    keys = silo.rows[KEYS[name]].to_numpy()
    feed = activity.events(rng, FEEDS[name], world.who, person, keys, np.concatenate(left_at))
    flaws.plant(rng, silo, JUNK_COLUMNS[name])
    activity.plant(rng, feed, UNKNOWN_RECORD[name])
    if name == "sales":
        flaws.break_line(rng, silo, flaws.SURPLUS_LINE, "CSV line with surplus fields")
    elif name == "service":
        flaws.break_line(rng, silo, flaws.NOT_JSON_LINE, "line that is not JSON")
    _write(out, silo, feed)
    issues = [(name, *i) for i in silo.issues] + [(feed_name(name, feed.name), *i) for i in feed.issues]
    return silo.truth(), pd.DataFrame(issues, columns=["source", "source_id", "column", "value", "problem"])


def _located(sources: dict[str, dict[str, Any]], out: Path) -> dict[str, dict[str, Any]]:
    """The sources with their files named by absolute path, so the config can be copied elsewhere
    (the warehouse and serving store stay relative: they belong to the config's own folder)."""
    folder = out.resolve()

    def locate(block: dict[str, Any]) -> dict[str, Any]:
        block = dict(block)
        if "path" in block:
            block["path"] = str(folder / block["path"])
        if "url" in block:
            block["url"] = resolve_sqlite_url(block["url"], folder)
        if "interactions" in block:
            block["interactions"] = [locate(feed) for feed in block["interactions"]]
        return block

    return {name: locate(block) for name, block in sources.items()}


def write_demo(out: Path, people: int = 2000, seed: int = 7) -> Path:
    """Write the demo silos, cdp.yaml, truth.csv and flaws.csv for `people` people into `out`."""
    if people < 1:
        raise ValueError(f"cdp demo: --people must be at least 1 (got {people})")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    words = vocab()
    pop = population(rng, people, words)
    contacts(rng, pop, words)
    world = World(pop, words, activity.customers(rng, people))
    truth, planted = [], []
    for name, (person, second) in appearances(rng, people).items():
        rows, issues = _silo(rng, out, name, person, second, world)
        truth.append(rows)
        planted.append(issues)
    pd.concat(truth).to_csv(out / "truth.csv", index=False)
    pd.concat(planted).to_csv(out / "flaws.csv", index=False)
    config = {"warehouse": DEFAULT_WAREHOUSE, "serving": DEFAULT_SERVING, "sources": _located(SOURCES, out)}
    (out / "cdp.yaml").write_text(HEADER + yaml.safe_dump(config, sort_keys=False, width=120))
    return out / "cdp.yaml"
