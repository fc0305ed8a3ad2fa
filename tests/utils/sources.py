"""Small source files and configs for ingestion tests: CSV, JSON Lines, Parquet, SQLite, cdp.yaml."""

from __future__ import annotations

import csv
import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import yaml

from cdp.config import Config, load_config


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> Path:
    """A CSV file with a header line."""
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_jsonl(path: Path, records: Sequence[dict[str, Any] | str]) -> Path:
    """One JSON object per line; a str is written as the line itself (to plant bad lines)."""
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return path


def write_parquet(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> Path:
    """A Parquet file (DuckDB infers the column types from the values)."""
    con = duckdb.connect()
    cols = ", ".join(f"col{i} as {name}" for i, name in enumerate(header))
    values = ", ".join("(" + ", ".join("?" for _ in header) + ")" for _ in rows)
    con.execute(f"copy (select {cols} from (values {values})) to '{path}' (format parquet)",
                [v for row in rows for v in row])
    return path


def write_sqlite(path: Path, table: str, ddl: str, rows: Sequence[Sequence[Any]]) -> Path:
    """A SQLite database holding one table."""
    with sqlite3.connect(path) as con:
        con.execute(f"create table {table} ({ddl})")
        con.executemany(f"insert into {table} values ({', '.join('?' for _ in rows[0])})", rows)
    return path


def write_config(folder: Path, sources: dict[str, dict[str, Any]], **top: Any) -> Config:
    """cdp.yaml with these sources in `folder`, loaded (paths resolve against the folder)."""
    path = folder / "cdp.yaml"
    path.write_text(yaml.safe_dump({"sources": sources, **top}, sort_keys=False))
    return load_config(path)


CONTACT_HEADER = ("contact_id", "first_name", "last_name", "email", "mobile", "zip", "dob")
CONTACT_ROWS = (
    ("c1", "Bob", "Smith", "Bob.Smith+news@GoogleMail.com", "(212) 555-0100", "10001-1234", "03/04/1980"),
    ("c2", "Peggy", "O'Brien Jr.", "peggy@@example", "12", "6310", "1900-01-01"),
    ("c1", "Robert", "Smith", "", "", "", ""),
    ("", "No", "Key", "", "", "", ""),
    ("c4", "José", "Núñez", "jose@example.com", "+44 20 7946 0958", "02134", "31 Dec 1985"),
)


def sales_source(folder: Path) -> dict[str, Any]:
    """A CSV source with a duplicate key, a blank key, junk values and a JSON Lines ticket feed."""
    write_csv(folder / "sales_contacts.csv", CONTACT_HEADER, CONTACT_ROWS)
    write_jsonl(folder / "tickets.jsonl", [
        {"ticket": "t1", "requester": "c1", "opened": "2024-03-01T09:00:00Z", "topic": "billing"},
        "not json",
        {"ticket": "t2", "requester": "", "opened": "2024-03-02"},
        {"ticket": "t3", "requester": "c9", "opened": "yesterday", "topic": "other"},
    ])
    fields = {"first_name": "first_name", "last_name": "last_name", "email": "email", "phone": "mobile",
              "postcode": "zip", "birth_date": "dob"}
    tickets = {"name": "tickets", "connector": "jsonl", "path": "tickets.jsonl", "key": "ticket",
               "record_key": "requester", "at": "opened", "attributes": ["topic"]}
    return {"connector": "csv", "path": "sales_contacts.csv", "key": "contact_id", "fields": fields,
            "interactions": [tickets]}


def finance_source(folder: Path) -> dict[str, Any]:
    """A SQLite source with full names in both orders, and an invoice feed."""
    db = folder / "finance.db"
    write_sqlite(db, "accounts", "account_no integer, account_name text, phone text, tax_id text, "
                 "street text, country text, changed text", [
                     (1, "SMITH, ROBERT A", "212-555-0100", "219-09-9998", "123 North Main Street Apt 4", "USA",
                      "2024-01-05 10:00:00"),
                     (2, "Dr. Margaret O'Brien", "5550100", "000-12-3456", "9 Elm Rd", "Narnia", "not a time"),
                 ])
    with sqlite3.connect(db) as con:
        con.execute("create table invoices (invoice_id text, account_no integer, issued_at text, amount text, "
                    "paid text)")
        con.executemany("insert into invoices values (?, ?, ?, ?, ?)", [
            ("i1", 1, "2024-01-02 10:00", "$1,234.50", "yes"), ("i2", 1, "bad", "(12.00)", "no"),
            ("i3", 2, "02/03/2024", "x", "no"), ("i3", 1, "2024-02-03", "1", "no"),
        ])
    fields = {"full_name": "account_name", "phone": "phone", "tax_id": "tax_id", "street": "street",
              "country": "country"}
    invoices = {"name": "invoices", "connector": "sql", "url": "sqlite:///finance.db", "table": "invoices",
                "key": "invoice_id", "record_key": "account_no", "at": "issued_at", "amount": "amount",
                "attributes": ["paid"]}
    return {"connector": "sql", "url": "sqlite:///finance.db", "table": "accounts", "key": "account_no",
            "trust": 3, "fields": fields, "updated_at": "changed", "interactions": [invoices]}


def two_sources(folder: Path) -> Config:
    """The finance (SQLite) and sales (CSV + JSON Lines) sources above, as one config."""
    return write_config(folder, {"finance": finance_source(folder), "sales": sales_source(folder)})
