"""What `cdp serve` says before it answers: where, which published version, and who can get in."""

from __future__ import annotations

import sqlalchemy as sa

from api.auth import ENV_KEYS, keys_of
from api.deps import NOT_PUBLISHED
from api.reader import ServingReader, check_key
from cdp.config import Config
from cdp.sealing import SealedStore, Sealer

NO_KEYS = (f"warning: no API keys configured, so every endpoint but /health answers 401. Set some in "
           f"${ENV_KEYS} (e.g. {ENV_KEYS}=mykey:reader:pii, comma-separated key:role[:pii], roles reader, "
           f"steward, admin) or under api.keys in cdp.yaml, then restart.")


def base_url(host: str, port: int) -> str:
    """The URL a server bound to host:port answers at (an IPv6 address in brackets)."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def startup_lines(cfg: Config, host: str, port: int) -> list[str]:
    """The lines `cdp serve` prints before it starts: the URL and /docs, the version served, the keys."""
    url = base_url(host, port)
    lines = [f"cdp: serving {url} (API docs: {url}/docs)", f"cdp: {published(cfg.serving)}"]
    keys = keys_of(cfg)
    if keys:
        roles = sorted({caller.role.name for caller in keys.values()})
        lines.append(f"cdp: {len(keys)} API key(s) ({', '.join(roles)}); send one in the X-API-Key header")
    else:
        lines.append(f"cdp: {NO_KEYS}")
    return lines


def published(serving_url: str) -> str:
    """The published version in the store, that nothing is published yet, or why the store cannot say."""
    sealer = Sealer.from_env()
    reader = ServingReader(serving_url, pool_size=1, sealer=sealer)
    try:
        version = reader.version()
    except sa.exc.DBAPIError as exc:
        first = str(exc.orig).splitlines()[0] if exc.orig else str(exc)
        return f"serving store unavailable ({first}): data endpoints answer 503 until it can be read"
    finally:
        reader.close()
    if version is None:
        return f"{NOT_PUBLISHED}; until then every data endpoint answers 503"
    line = (f"published version {version.version} of {version.published_at:%Y-%m-%d %H:%M:%S} UTC: "
            f"{version.customers:,} customers, {version.records:,} source records")
    if version.key_id is None:
        return line + (" (stored plain: $CDP_DATA_KEY was not set when it was published)" if sealer else "")
    try:
        check_key(version.key_id, sealer)
    except SealedStore as exc:
        return f"{line}; error: {exc}; until then data endpoints answer 503"
    return line + f", personal values encrypted (data key {version.key_id})"
