"""A small synthetic population with households, nicknames and typos, big enough to train on.

Households share a last name, a street, a landline and sometimes an email; people appear in up to
three sources with nicknames, typos and missing fields. The hard cases the tests name are added
on top: twins, a father and son of one name, Bob/Robert Smith.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from tests.utils.staged import staged_row

FIRST = {"ROBERT": ["BOB", "ROB"], "WILLIAM": ["BILL", "WILL"], "ELIZABETH": ["LIZ", "BETH"], "JAMES": ["JIM"],
         "MARGARET": ["PEGGY", "MAGGIE"], "THOMAS": ["TOM"], "KATHERINE": ["KATE"], "RICHARD": ["RICK"],
         "JENNIFER": ["JEN"], "MICHAEL": ["MIKE"], "SUSAN": ["SUE"], "DAVID": ["DAVE"], "PATRICIA": ["PAT"],
         "OLIVIA": [], "NOAH": [], "SOPHIA": [], "LIAM": [], "GRACE": [], "OWEN": [], "CHLOE": [], "ETHAN": []}
LAST = ["SMITH", "JOHNSON", "BROWN", "GARCIA", "MILLER", "DAVIS", "LOPEZ", "WILSON", "ANDERSON", "TAYLOR",
        "MOORE", "JACKSON", "MARTIN", "LEE", "PEREZ", "WHITE", "HARRIS", "CLARK", "LEWIS", "ROBINSON",
        "WALKER", "YOUNG", "ALLEN", "KING", "WRIGHT", "SCOTT", "TORRES", "NGUYEN", "HILL", "FLORES"]
SOURCES = ("crm", "shop", "support")


def _typo(rng: random.Random, word: str) -> str:
    i = rng.randrange(len(word) - 1)
    return word[:i] + word[i + 1] + word[i] + word[i + 2:]


def _records(rng: random.Random, person: dict[str, Any], pid: int) -> list[dict[str, Any]]:
    rows = []
    for source in rng.sample(SOURCES, rng.choice([1, 2, 2, 3])):
        first = person["first"]
        if FIRST[first] and rng.random() < 0.3:
            first = rng.choice(FIRST[first])
        elif rng.random() < 0.05:
            first = _typo(rng, first)
        root = next((f for f, nick in FIRST.items() if first == f or first in nick), first)
        rows.append(staged_row(
            source, f"{source}{pid}", first_name=first, first_name_root=root, last_name=person["last"],
            email=person["email"] if rng.random() < 0.8 else None,
            phone=rng.choice([person["mobile"], person["landline"]]), street=person["street"],
            city="SPRINGFIELD", postcode=person["postcode"],
            birth_date=None if source == "shop" else person["dob"],
        ))
    return rows


def _people(rng: random.Random, households: int) -> list[dict[str, Any]]:
    people = []
    for h in range(households):
        last, street = rng.choice(LAST), f"{rng.randrange(1, 999)} {rng.choice(['OAK', 'ELM', 'PINE'])} ST {h}"
        home = {"last": last, "street": street, "postcode": f"{rng.randrange(100):05d}",
                "landline": f"+1555{h:07d}", "family_email": f"{last.lower()}{h}@home.example"}
        for k in range(rng.choice([1, 1, 2, 3, 4])):
            first = rng.choice(list(FIRST))
            email = home["family_email"] if rng.random() < 0.3 else f"{first.lower()}.{last.lower()}{h}{k}@x.example"
            dob = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(25_000))
            people.append(home | {"first": first, "email": email, "mobile": f"+1666{h:05d}{k:02d}", "dob": dob})
    return people


def population(seed: int = 5, households: int = 700) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """(staged rows, record_id -> person number) for the synthetic population."""
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    truth: dict[str, int] = {}
    for pid, person in enumerate(_people(rng, households)):
        for row in _records(rng, person, pid):
            rows.append(row)
            truth[row["record_id"]] = pid
    return rows, truth


def hard_cases() -> list[dict[str, Any]]:
    """The named cases, as records in sources of their own."""
    twins = {"last_name": "KOWALSKI", "street": "12 BIRCH RD", "postcode": "00042", "city": "SPRINGFIELD",
             "phone": "+15550000042", "email": "kowalski@home.example", "birth_date": dt.date(1990, 5, 17)}
    smith = {"last_name": "SMITH", "email": "bob.smith@mail.example", "birth_date": dt.date(1975, 2, 3)}
    miller = {"first_name": "JOHN", "last_name": "MILLER", "street": "7 CEDAR LN", "postcode": "00077",
              "city": "SPRINGFIELD", "phone": "+15550000077"}
    return [
        staged_row("case", "twin1", first_name="ANNA", **twins),
        staged_row("case", "twin2", first_name="EMMA", **twins),
        staged_row("case", "bob", first_name="BOB", first_name_root="ROBERT", **smith),
        staged_row("case", "robert", first_name="ROBERT", phone="+15550000999", **smith),
        staged_row("case", "father", birth_date=dt.date(1958, 4, 2), **miller),
        staged_row("case", "son", birth_date=dt.date(1988, 9, 30), **miller),
    ]
