"""Real services for tests (databases, Spark): skip with a reason when absent, fail instead under CI.

`.ci/run` sets CDP_REQUIRE_SERVICES=1 so a missing PostgreSQL, MariaDB, pyspark or Java is a failure there.
"""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa

from cdp.config import spark_missing

POSTGRES_URL = os.environ.get("CDP_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MARIADB_URL = os.environ.get("CDP_TEST_MARIADB", "mysql+pymysql://root@127.0.0.1:3306/test")


def _absent(reason: str) -> None:
    if os.environ.get("CDP_REQUIRE_SERVICES") == "1":
        pytest.fail(reason + " (CDP_REQUIRE_SERVICES=1 turns this skip into a failure)")
    pytest.skip(reason)


def _require(url: str, what: str) -> str:
    try:
        engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as con:
            con.execute(sa.text("select 1"))
        engine.dispose()
    except Exception as exc:  # any driver error means the service is not usable here
        _absent(f"{what} not reachable at {url}: {exc.__class__.__name__}: {str(exc).splitlines()[0]}")
    return url


def require_postgres() -> str:
    """SQLAlchemy URL of the test PostgreSQL, or skip/fail."""
    return _require(POSTGRES_URL, "PostgreSQL")


def require_mariadb() -> str:
    """SQLAlchemy URL of the test MariaDB, or skip/fail."""
    return _require(MARIADB_URL, "MariaDB")


def require_spark() -> None:
    """Skip (or fail) unless pyspark and Java are here for `engine: spark`."""
    missing = spark_missing()
    if missing:
        _absent(f"engine: spark cannot run here: {missing}")
