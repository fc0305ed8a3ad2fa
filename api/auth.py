"""API keys and roles: `key:role[:pii]` specs from cdp.yaml's `api.keys` and $CDP_API_KEYS.

A request's key is checked with one dict lookup. Roles are ordered reader < steward < admin;
readers see the attributes of `api.pii` masked (api.mask), and may not search by them, unless their key
carries `pii`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum

from cdp.config import Config, ConfigError

ENV_KEYS = "CDP_API_KEYS"


class Role(IntEnum):
    """What a key may do; a higher role may do everything a lower one may."""

    reader = 1
    steward = 2
    admin = 3


@dataclass(frozen=True)
class Caller:
    """Who is calling: the role and pii flag of their key, and a name for audit trails."""

    role: Role
    pii: bool
    who: str
    """`<role>:<first 12 hex digits of the key's SHA-256>`: names the key without revealing it."""

    @property
    def sees_pii(self) -> bool:
        """Stewards and admins see personal values; readers only with the pii flag."""
        return self.pii or self.role >= Role.steward


def parse_key(spec: str) -> tuple[str, Caller]:
    """`key:role[:pii]` -> (key, Caller); ConfigError naming the spec's role when it is malformed."""
    key, _, rest = spec.strip().partition(":")
    role, _, flag = rest.partition(":")
    if not key or role not in Role.__members__ or flag not in ("", "pii"):
        raise ConfigError(f"api.keys: {_redact(spec)!r} is not key:role[:pii] with role reader, steward or admin")
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return key, Caller(Role[role], flag == "pii", f"{role}:{digest}")


def _redact(spec: str) -> str:
    key, sep, rest = spec.strip().partition(":")
    return f"{key[:2]}…{sep}{rest}" if key else spec


def parse_keys(specs: Iterable[str]) -> dict[str, Caller]:
    """Key -> Caller for every non-blank spec; a later spec of the same key wins."""
    return dict(parse_key(s) for s in specs if s.strip())


def keys_of(cfg: Config, environ: dict[str, str] | None = None) -> dict[str, Caller]:
    """The config's `api.keys`, then those of $CDP_API_KEYS (comma-separated)."""
    env = (os.environ if environ is None else environ).get(ENV_KEYS, "")
    return parse_keys([*cfg.api.keys, *env.split(",")])
