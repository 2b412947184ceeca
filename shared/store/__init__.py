"""PAL Watch's state in Azure Table Storage: the only package that touches it.

Public face: `Store` (see `shared.store.store`), its value types and `StoreError`.
The alert outbox (`shared.store.outbox`) is reached through `Store.outbox()`, on the same table client.
"""

from __future__ import annotations

from shared.store.errors import PermanentStoreError, StoreError, TransientStoreError
from shared.store.keys import decode_key, encode_key
from shared.store.store import Attestation, Coverage, RememberedIdentity, Store

__all__ = [
    "Attestation",
    "Coverage",
    "PermanentStoreError",
    "RememberedIdentity",
    "Store",
    "StoreError",
    "TransientStoreError",
    "decode_key",
    "encode_key",
]
