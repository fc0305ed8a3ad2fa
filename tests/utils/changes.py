"""Two crafted versions of a small serving store, published one after the other, for change feed tests."""

from __future__ import annotations

from tests.utils.serving import ServingBuilder, record

ANN, BEN, CAROL, DAN, EVE, FAY = (f"C00000000{n}" for n in range(1, 7))


def first(url: str) -> ServingBuilder:
    """Version 1: five customers; Dan has two records; Ann is in no segment of note."""
    b = ServingBuilder(url)
    b.customer(ANN, [record("crm", "1", first_name="ANN", last_name="LEE", email="ann@old.com")])
    b.customer(BEN, [record("crm", "2", first_name="BEN", last_name="KAY")], monetary_tier="high")
    b.customer(CAROL, [record("shop", "3", first_name="BEN", last_name="KAY")])
    b.customer(DAN, [record("crm", "4", first_name="DAN", last_name="OH"), record("shop", "4", first_name="DAN",
                                                                                    last_name="OH")])
    b.customer(EVE, [record("crm", "5", first_name="EVE", last_name="ST")])
    return b


def second(url: str) -> ServingBuilder:
    """Version 2: Ann's email changed and her complaints put her at churn risk; Carol merged into Ben; Dan's
    shop record split out as Fay; Eve's record left the sources."""
    b = ServingBuilder(url)
    b.customer(ANN, [record("crm", "1", first_name="ANN", last_name="LEE", email="ann@new.com")],
               complaints_90d=3, churn_risk=True)
    b.customer(BEN, [record("crm", "2", first_name="BEN", last_name="KAY"),
                     record("shop", "3", first_name="BEN", last_name="KAY")], monetary_tier="high")
    b.redirect(CAROL, BEN)
    b.customer(DAN, [record("crm", "4", first_name="DAN", last_name="OH")])
    b.customer(FAY, [record("shop", "4", first_name="DAN", last_name="OH")], monetary_tier="mid")
    return b
