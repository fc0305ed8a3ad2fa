"""Encryption at rest of the serving store's personal values, with the data key from the environment.

Only `CDP_DATA_KEY` turns it on: the key generated into the state folder (cdp.datakey) would sit beside the
SQLite store it protects, so anyone who can read the one reads the other. Each purpose has a key of its
own, derived from the data key with HKDF-SHA256: AES-256-GCM for stored texts, HMAC-SHA256 for search keys.

A sealed text is `PREFIX` then base64 of a random 96-bit nonce and the ciphertext with its tag. The prefix
names the format (a later one, e.g. under a rotated key, takes the next digit) and cannot begin a plain
JSON text, so a reader tells sealed from plain per value. Each text is bound to its place (table, column
and row key, as associated data): a sealed value copied into another row or column does not open.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import os
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from cdp.config import ConfigError
from cdp.datakey import ENV_DATA_KEY, SEPARATOR, key_id

PREFIX = "e1:"
"""Begins every sealed text: format 1 (AES-256-GCM, 12-byte nonce, HKDF purpose 'serving v1')."""
NONCE_BYTES = 12
MIN_KEY_CHARS = 32
"""The shortest $CDP_DATA_KEY that encrypts: 32 hex digits are 128 bits."""
SEARCH_MACRO = "cdp_search_hash"
"""DuckDB macro `cdp_search_hash(kind, value)`: Sealer.search_hash in SQL (cdp.datakey.install_keyed_hash)."""


class SealedStore(RuntimeError):
    """The store holds values sealed under a data key this process does not have (none, or another one)."""


def purpose_key(key: bytes, purpose: str) -> bytes:
    """A 256-bit key of one purpose, derived from the data key with HKDF-SHA256."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"cdp {purpose}".encode()).derive(key)


def no_key(published: str | None) -> SealedStore:
    """The error of a process without a key reading a store sealed under `published` (a key id, if known)."""
    which = f" (key id {published})" if published else ""
    return SealedStore(f"the serving store is encrypted with a data key{which} and ${ENV_DATA_KEY} is not set: "
                       f"set it to the key the store was published with")


@dataclass(frozen=True)
class Sealer:
    """Seals and opens the serving store's texts, and hashes search keys, under one data key."""

    key_id: str
    """cdp.datakey.key_id of the data key: stored with each version, never the key."""
    search_key: bytes = field(repr=False)
    """The HMAC key of search keys (DuckDB computes them in SQL with it: cdp.datakey.install_keyed_hash)."""
    aead: AESGCM = field(repr=False)

    @classmethod
    def of(cls, key: bytes) -> Sealer:
        return cls(key_id(key), purpose_key(key, "search v1"), AESGCM(purpose_key(key, "serving v1")))

    @classmethod
    def from_env(cls) -> Sealer | None:
        """The sealer of $CDP_DATA_KEY, or None when it is not set (values stay plain); ConfigError for a key
        too short to encrypt with (HKDF stretches nothing: a short key could be guessed offline)."""
        key = os.environ.get(ENV_DATA_KEY)
        if not key:
            return None
        if len(key) < MIN_KEY_CHARS:
            raise ConfigError(f"${ENV_DATA_KEY} has {len(key)} characters; encrypting needs at least "
                              f"{MIN_KEY_CHARS} random ones (e.g. `openssl rand -hex 32`)")
        return cls.of(key.encode())

    def seal(self, text: str, place: str) -> str:
        """`text` encrypted, bound to `place` (e.g. 'profiles.attributes' and the row's key)."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = nonce + self.aead.encrypt(nonce, text.encode(), place.encode())
        return PREFIX + binascii.b2a_base64(sealed, newline=False).decode("ascii")

    def open(self, sealed: str, place: str) -> str:
        """The text `seal` sealed at `place`; SealedStore when another key sealed it (or it was altered)."""
        try:
            raw = binascii.a2b_base64(sealed[len(PREFIX):])  # binascii: a third faster than the base64 module
            return self.aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], place.encode()).decode()
        except (InvalidTag, binascii.Error, ValueError):
            raise SealedStore(f"a value of the serving store does not decrypt with ${ENV_DATA_KEY} (key id "
                              f"{self.key_id}): the store was published with another key, or altered") from None

    def search_hash(self, kind: str, value: str) -> str:
        """The stored form of a hashed search key: HMAC-SHA256 (hex) of kind and value."""
        return hmac.new(self.search_key, f"{kind}{SEPARATOR}{value}".encode(), hashlib.sha256).hexdigest()


def unseal(text: str, sealer: Sealer | None, table: str, column: str, *row_key: object) -> str:
    """A stored text as written: opened when sealed (at its place_of), as it is when plain (a store published
    without a key; then nothing else is done: this is on every profile read)."""
    if not text.startswith(PREFIX):
        return text
    if sealer is None:
        raise no_key(None)
    return sealer.open(text, place_of(table, column, *row_key))


def place_of(table: str, column: str, *row_key: object) -> str:
    """The associated data of one stored text: its table, column and the row's key."""
    return SEPARATOR.join((f"{table}.{column}", *map(str, row_key)))
