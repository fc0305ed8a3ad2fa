"""API keys: 401 without a known key, 403 below the route's role, keys from config and $CDP_API_KEYS."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from api.auth import Caller, Role, keys_of, parse_key
from api.deps import AdminRole, StewardRole
from api.main import create_app, from_environment
from cdp.config import ConfigError
from tests.api.conftest import JOHN, as_role, config
from tests.utils.serving import ServingBuilder


@pytest.mark.parametrize("path", [f"/customers/{JOHN}", "/customers", f"/customers/{JOHN}/timeline",
                                  "/sources/sales/S1"])
def test_no_key_or_an_unknown_key_is_401(client: TestClient, path: str) -> None:
    for headers in ({}, {"X-API-Key": "not-a-key"}, {"X-API-Key": ""}):
        response = client.get(path, headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "APIKey"


def test_a_role_below_the_route_is_403(client: TestClient) -> None:
    app = client.app

    @app.get("/steward-only")  # type: ignore[attr-defined]
    async def steward_only(caller: StewardRole) -> dict[str, str]:
        return {"who": caller.who}

    @app.get("/admin-only")  # type: ignore[attr-defined]
    async def admin_only(caller: AdminRole) -> dict[str, str]:
        return {"who": caller.who}

    for role, steward, admin in (("reader", 403, 403), ("reader_pii", 403, 403), ("steward", 200, 403),
                                 ("admin", 200, 200)):
        assert client.get("/steward-only", headers=as_role(role)).status_code == steward, role
        assert client.get("/admin-only", headers=as_role(role)).status_code == admin, role
    assert client.get("/steward-only").status_code == 401
    assert client.get("/admin-only", headers=as_role("admin")).json()["who"].startswith("admin:")


def test_keys_from_the_environment_add_to_the_config(world: ServingBuilder, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDP_API_KEYS", "env-reader:reader, env-admin:admin:pii")
    with TestClient(create_app(config(world.url, keys=["cfg-reader:reader"]))) as client:
        for key in ("env-reader", "env-admin", "cfg-reader"):
            assert client.get(f"/customers/{JOHN}", headers={"X-API-Key": key}).status_code == 200, key
        masked = client.get(f"/customers/{JOHN}", headers={"X-API-Key": "env-reader"}).json()
        assert masked["attributes"]["email"] == "j***@work.com"


def test_key_specs() -> None:
    key, caller = parse_key("s3cret:reader:pii")
    assert key == "s3cret" and caller.role is Role.reader and caller.pii and caller.sees_pii
    assert caller.who.startswith("reader:") and "s3cret" not in caller.who
    assert parse_key("x:steward")[1] == Caller(Role.steward, False, parse_key("x:steward")[1].who)
    assert parse_key("x:steward")[1].sees_pii
    keys = keys_of(config("sqlite://", keys=["a:reader", "a:admin"]), environ={"CDP_API_KEYS": "b:steward,,"})
    assert {k: c.role for k, c in keys.items()} == {"a": Role.admin, "b": Role.steward}


@pytest.mark.parametrize("spec", ["s3cret", "s3cret:owner", "s3cret:reader:all", ":reader"])
def test_a_malformed_key_spec_is_a_config_error_without_the_key(spec: str) -> None:
    with pytest.raises(ConfigError, match="api.keys") as info:
        parse_key(spec)
    assert "s3cret" not in str(info.value)


def test_the_worker_factory_serves_the_config_named_by_cdp_config(world: ServingBuilder, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "crm.csv").write_text("id,email\n")
    source = {"connector": "csv", "path": "crm.csv", "key": "id", "fields": {"email": "email"}}
    (tmp_path / "cdp.yaml").write_text(yaml.safe_dump(
        {"serving": world.url, "sources": {"crm": source}, "api": {"keys": ["file-reader:reader"]}}))
    monkeypatch.setenv("CDP_CONFIG", str(tmp_path / "cdp.yaml"))
    monkeypatch.delenv("CDP_API_KEYS", raising=False)
    with TestClient(from_environment()) as client:
        assert client.get(f"/customers/{JOHN}", headers={"X-API-Key": "file-reader"}).status_code == 200
