"""For publish tests: a warehouse holding the golden side (staged, interactions, customer ids, golden,
lineage, traits) of real ingestion over the two small sources of tests/utils/sources.py, clustered as
the test says; and empty serving stores (a SQLite file, a schema of the test PostgreSQL).

Matching is left out on purpose: the clusters are given, so a test can merge or split people between runs.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from cdp.config import Config, IdentityConfig, load_config
from cdp.warehouse import open_warehouse
from identity.golden import build_golden
from identity.ids import assign_customer_ids
from identity.traits import build_traits
from ingestion.load import load_source
from ingestion.stage import build_unions, stage_source
from tests.utils.services import require_postgres
from tests.utils.sources import two_sources
from tests.utils.warehouse import write_clusters

PEOPLE = (("finance:1", "sales:c1"), ("finance:2",), ("sales:c2",), ("sales:c4",))
"""finance:1 (SMITH, ROBERT A) and sales:c1 (Bob Smith) are one person; the rest stand alone."""


def ingest(folder: Path, serving: str) -> Config:
    """The two sources' config (serving: `serving`) and a warehouse with their staged records and events."""
    cfg = two_sources(folder).model_copy(update={"serving": serving})
    with open_warehouse(cfg.warehouse_path) as con:
        for name, src in cfg.sources.items():
            load_source(con, name, src)
            stage_source(con, name, src)
        build_unions(con, cfg)
    return cfg


def copy_ingested(template: Path, folder: Path, serving: str) -> Config:
    """A copy in `folder` of the folder `ingest` (and maybe `resolve`) wrote, its config's serving `serving`.

    Copying a few files is much cheaper than ingesting again, but the copy's ingestion state still names the
    template's files: it suits tests that do not ingest again.
    """
    shutil.copytree(template, folder, dirs_exist_ok=True)
    return load_config(folder / "cdp.yaml").model_copy(update={"serving": serving})


def resolve(cfg: Config, people: Iterable[Iterable[str]] = PEOPLE, run_id: str = "r1") -> None:
    """One identity run over the given clusters: stable ids, golden profiles and lineage, traits."""
    with open_warehouse(cfg.warehouse_path) as con:
        write_clusters(con, people)
        assign_customer_ids(con, run_id)
        build_golden(con, IdentityConfig())
        build_traits(con)


@contextmanager
def postgres_schema() -> Iterator[str]:
    """URL of the test PostgreSQL with a fresh schema first on its search path; the schema is dropped after."""
    url = require_postgres()
    schema = f"cdp_publish_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(url)
    with engine.begin() as con:
        con.execute(sa.text(f"create schema {schema}"))
    try:
        yield f"{url}?options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as con:
            con.execute(sa.text(f"drop schema {schema} cascade"))
        engine.dispose()
