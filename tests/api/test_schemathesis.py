"""Schemathesis against the app's own /openapi.json, in-process (ASGI): no 5xx, and every answer as documented.

Bounded so that it runs in CI in seconds: a couple of dozen generated cases per operation, each sent with an
admin's and a reader's key, over build_world's store on SQLite. The schema is loaded when the module is
(schemathesis' `pytest.from_fixture` does not work with pytest 9), from an app whose store the fixture
below fills before any request: the app opens no connection until it answers one.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.main import create_app
from identity.model import ModelStore
from tests.api.conftest import as_role, build_world, config
from tests.utils.models import made_up_model

EXAMPLES = 25
"""Generated cases per operation (7 operations), each sent with every key of ROLES: about 350 requests."""
ROLES = ("admin", "reader")
"""An admin reaches every route and sees everything; a reader without pii sees masks and is refused some."""
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
"""No 5xx, and every answer as documented: its status, content type, headers and body.

Left out: positive_data_acceptance (a cursor or an email is any string to the schema, yet the API rightly
refuses one it did not give out, 400, or cannot read, 422, as documented) and negative_data_rejection (it
counts unknown query parameters, which the API ignores as FastAPI does, and a case without X-API-Key, to
which the key sent here is added back). Both kinds of generated input are still sent, and checked for the above.
"""
FOLDER = Path(tempfile.mkdtemp(prefix="cdp-schemathesis-"))
CFG = config(f"sqlite:///{FOLDER / 'serving.db'}", rate_limit=None, search_rate_limit=None).model_copy(
    update={"root": FOLDER})
APP = create_app(CFG)
"""Rate limits off: the run is one long burst of a single key, which the limits' own tests cover."""
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module", autouse=True)
def published() -> Iterator[None]:
    """build_world's store under APP, removed after the module."""
    build_world(f"sqlite:///{FOLDER / 'serving.db'}")
    ModelStore(CFG.state_dir / "models").save(made_up_model())  # POST /resolve scores with it
    yield
    APP.state.reader.close()
    shutil.rmtree(FOLDER, ignore_errors=True)


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_answer_is_documented_and_none_is_a_server_error(case: schemathesis.Case) -> None:
    for role in ROLES:
        case.call_and_validate(headers=as_role(role), checks=CHECKS)
