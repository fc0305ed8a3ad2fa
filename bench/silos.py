"""Synthetic silos for the ingestion benchmark: ~1M messy records in SQLite, CSV and JSON Lines.

Shaped like the demo (finance accounts + invoices in SQLite, sales contacts in CSV, service
requesters + tickets in JSON Lines) with the mess ingestion must absorb: both name orders,
nicknames, accents, mixed phone layouts and extensions, ZIP+4, US and ISO dates, junk emails
and phones, placeholder dates, invalid SSNs, duplicate and blank keys, an unreadable CSV row and
JSON line. `python -m bench.ingest --silos N` writes them for N records per source.
"""

from __future__ import annotations

import csv
import json
import random
import sqlite3
from pathlib import Path

FIRST = ["John", "Mary", "Robert", "Bob", "Patricia", "José", "Anne-Marie", "Liz", "Elizabeth", "William", "Bill",
         "Michael", "Jennifer", "David", "Linda", "James", "Peggy", "Margaret", "Zoë", "Søren", "Chris", "Nancy"]
LAST = ["Smith", "O'Brien", "de la Cruz", "Nguyen", "Van Dyke", "Johnson", "García", "Brown", "Müller", "Lee"]
STREET = ["Main", "Oak", "Maple", "Cedar", "Elm", "Washington", "Lake", "Hill", "Park", "Pine", "Sunset"]
TYPES = ["Street", "St.", "Avenue", "Ave", "Road", "Rd", "Drive", "Boulevard", "Lane", "Court"]
PLACES = [("New York", "NY", "10001"), ("San Francisco", "California", "94103"), ("Chicago", "IL", "60601"),
          ("Boston", "MA", "02134"), ("Houston", "TX", "77001"), ("St. Louis", "MO", "63101")]
AREAS = ["212", "415", "312", "617", "713", "305", "206", "503", "404", "602", "718", "646"]
PHONES = ["({a}) {e}-{n}", "{a}-{e}-{n}", "+1 {a} {e} {n}", "{a}.{e}.{n}", "1{a}{e}{n}", "{a}-{e}-{n} x12"]


class People:
    """Random people with messy attribute values, reproducible from a seed."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.last = LAST + [f"Name{i}" for i in range(5000)]
        self.streets = STREET + [f"Road{i}" for i in range(2000)]

    def person(self, i: int) -> dict[str, str]:
        r = self.rng
        first, last = r.choice(FIRST), r.choice(self.last)
        city, state, zip5 = r.choice(PLACES)
        born = f"{r.randint(1940, 2004)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}"
        return {
            "first": first, "last": last, "city": city, "state": state, "zip": zip5 + r.choice(["", "", "-1234"]),
            "email": r.choice([f"{first}.{last}{i % 997}@example.com".replace(" ", ""), "none@none.com", "bad@"]
                              if r.random() < 0.05 else [f"{first}.{last}{i % 997}@gmail.com".replace(" ", "")]),
            "phone": r.choice(PHONES).format(a=r.choice(AREAS), e=r.randint(200, 999), n=f"{r.randint(0, 9999):04d}")
            if r.random() > 0.03 else r.choice(["n/a", "555-0100", "12"]),
            "street": f"{r.randint(1, 9999)} {r.choice(self.streets)} {r.choice(TYPES)}{r.choice(['', '', ' Apt 4'])}",
            "born": born if r.random() > 0.02 else "1900-01-01",
            "ssn": f"{r.randint(1, 899):03d}-{r.randint(1, 99):02d}-{r.randint(1, 9999):04d}",
        }


def write_silos(folder: Path, records: int, seed: int = 1) -> Path:
    """Write the three silos with `records` records each, and their cdp.yaml; return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    people = People(seed)
    _finance(folder, people, records)
    _sales(folder, people, records)
    _service(folder, people, records)
    (folder / "cdp.yaml").write_text(CONFIG)
    return folder / "cdp.yaml"


def _finance(folder: Path, people: People, n: int) -> None:
    db = folder / "finance.db"
    db.unlink(missing_ok=True)
    rows = []
    for i in range(n):
        p = people.person(i)
        name = f"{p['last'].upper()}, {p['first'].upper()}" if i % 2 else f"{p['first']} {p['last']}"
        rows.append((i, name, p["email"], p["phone"], p["ssn"], p["street"], p["city"], p["state"], p["zip"],
                     p["born"]))
    invoices = [(f"inv{i}", people.rng.randrange(n), f"2024-{i % 12 + 1:02d}-{i % 28 + 1:02d} 10:00:00",
                 f"${people.rng.random() * 1000:,.2f}", people.rng.choice(["yes", "no"])) for i in range(n // 2)]
    with sqlite3.connect(db) as con:
        con.execute("create table accounts (account_no integer, account_name text, email text, phone text, "
                    "tax_id text, billing_street text, billing_city text, billing_state text, billing_zip text, "
                    "date_of_birth text)")
        con.executemany("insert into accounts values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        con.execute("create table invoices (invoice_id text, account_no integer, issued_at text, amount text, "
                    "paid text)")
        con.executemany("insert into invoices values (?, ?, ?, ?, ?)", invoices)


def _sales(folder: Path, people: People, n: int) -> None:
    with (folder / "sales_contacts.csv").open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["contact_id", "first_name", "last_name", "email", "mobile", "street", "city", "state", "zip",
                      "dob"])
        for i in range(n):
            p = people.person(i + n)
            y, m, d = p["born"].split("-")
            key = f"c{i}" if i % 1000 else (f"c{i - 1}" if i % 2000 else "")  # a few blank and duplicate keys
            out.writerow([key, p["first"], p["last"], p["email"].upper() if i % 5 == 0 else p["email"], p["phone"],
                          p["street"], p["city"], p["state"], p["zip"], f"{m}/{d}/{y}"])
        out.writerow(["c-broken", "Too", "many", "fields", "for", "the", "header", "in", "this", "row", "at", "all"])


def _service(folder: Path, people: People, n: int) -> None:
    with (folder / "service.jsonl").open("w") as f:
        for i in range(n):
            p = people.person(i + 2 * n)
            f.write(json.dumps({"requester_id": f"r{i}", "name": f"{p['first']} {p['last']}", "email": p["email"],
                                "phone": p["phone"], "zip": p["zip"]}) + "\n")
        f.write("{not json\n")
    with (folder / "tickets.jsonl").open("w") as f:
        for i in range(n // 2):
            f.write(json.dumps({"ticket_id": f"t{i}", "requester_id": f"r{people.rng.randrange(n)}",
                                "opened": f"2024-{i % 12 + 1:02d}-{i % 28 + 1:02d}T09:00:00Z",
                                "topic": people.rng.choice(["billing", "other"])}) + "\n")


CONFIG = """\
sources:
  finance:
    connector: sql
    url: sqlite:///finance.db
    table: accounts
    key: account_no
    trust: 3
    fields: {full_name: account_name, email: email, phone: phone, street: billing_street, city: billing_city,
             state: billing_state, postcode: billing_zip, tax_id: tax_id, birth_date: date_of_birth}
    interactions:
      - {name: invoices, connector: sql, url: sqlite:///finance.db, table: invoices, key: invoice_id,
         record_key: account_no, at: issued_at, amount: amount, attributes: [paid]}
  sales:
    connector: csv
    path: sales_contacts.csv
    key: contact_id
    fields: {first_name: first_name, last_name: last_name, email: email, phone: mobile, street: street,
             city: city, state: state, postcode: zip, birth_date: dob}
  service:
    connector: jsonl
    path: service.jsonl
    key: requester_id
    fields: {full_name: name, email: email, phone: phone, postcode: zip}
    interactions:
      - {name: tickets, connector: jsonl, path: tickets.jsonl, key: ticket_id, record_key: requester_id,
         at: opened, attributes: [topic]}
"""
