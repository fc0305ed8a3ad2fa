"""Two small CSV silos of the same people (a CRM and a sales export), enough for a whole run.

`crm.csv` holds every person once; `sales.csv` holds most of them again, written differently
(case, phone layout, US dates), so matching has real pairs to learn from. Tests plant their
problems in the rows before writing them (`write_sales`).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from cdp.config import Config
from tests.utils.sources import write_config, write_csv

FIRST = ["Olivia", "Noah", "Emma", "Liam", "Ava", "Mason", "Sophia", "Ethan", "Mia", "Lucas", "Grace", "Owen",
         "Chloe", "Henry", "Ella", "Jack", "Nora", "Leo", "Ruby", "Isaac"]
LAST = ["Smith", "Johnson", "Brown", "Garcia", "Miller", "Davis", "Lopez", "Wilson", "Anderson", "Taylor",
        "Moore", "Jackson", "Martin", "Lee", "Perez", "White", "Harris", "Clark", "Lewis", "Walker"]
CITIES = [("Chicago", "60601"), ("Boston", "02134"), ("Houston", "77001"), ("Denver", "80202")]
CRM_HEADER = ["crm_id", "first_name", "last_name", "email", "phone", "birth_date", "street", "city", "zip"]
SALES_HEADER = ["contact_id", "name", "email", "mobile", "dob", "zip"]


def people(n: int, seed: int = 11) -> list[dict[str, Any]]:
    """n distinct people with a name, email, phone, birth date and address."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        city, zip5 = rng.choice(CITIES)
        out.append({"first": first, "last": last, "email": f"{first}.{last}{i}@example.com".lower(),
                    "phone": f"312{rng.randint(2000000, 9999999)}", "born": (rng.randint(1950, 2003),
                                                                              rng.randint(1, 12), rng.randint(1, 28)),
                    "street": f"{rng.randint(1, 999)} {rng.choice(['Oak', 'Elm', 'Pine'])} St", "city": city,
                    "zip": zip5})
    return out


def crm_rows(persons: list[dict[str, Any]]) -> list[list[str]]:
    return [[f"C{i:04d}", p["first"], p["last"], p["email"], p["phone"], "{:04d}-{:02d}-{:02d}".format(*p["born"]),
             p["street"], p["city"], p["zip"]] for i, p in enumerate(persons)]


def sales_rows(persons: list[dict[str, Any]]) -> list[list[str]]:
    """Every fourth person is left out; the rest written the sales way (one name field, US dates)."""
    return [[f"S{i:04d}", f"{p['first']} {p['last']}".upper(), p["email"].upper(),
             f"({p['phone'][:3]}) {p['phone'][3:6]}-{p['phone'][6:]}", "{1:02d}/{2:02d}/{0:04d}".format(*p["born"]),
             p["zip"]] for i, p in enumerate(persons) if i % 4 != 3]


def config(folder: Path, sales_key: str = "contact_id", **top: Any) -> Config:
    """cdp.yaml over crm.csv and sales.csv in `folder` (written by the test); warehouse and serving store in
    the default .cdp/ beside it, so a copied folder is a separate deployment."""
    crm = {"connector": "csv", "path": "crm.csv", "key": "crm_id", "trust": 2,
           "fields": {"first_name": "first_name", "last_name": "last_name", "email": "email", "phone": "phone",
                      "birth_date": "birth_date", "street": "street", "city": "city", "postcode": "zip"}}
    sales = {"connector": "csv", "path": "sales.csv", "key": sales_key,
             "fields": {"full_name": "name", "email": "email", "phone": "mobile", "birth_date": "dob",
                        "postcode": "zip"}}
    return write_config(folder, {"crm": crm, "sales": sales}, **top)


def write_silos(folder: Path, persons: list[dict[str, Any]]) -> Config:
    """Both silos, clean, and their config."""
    write_csv(folder / "crm.csv", CRM_HEADER, crm_rows(persons))
    write_csv(folder / "sales.csv", SALES_HEADER, sales_rows(persons))
    return config(folder)
