"""Table Storage key encoding: any string (ARM ids, subjects) -> a legal, reversible key.

PartitionKey and RowKey may not contain / \\ # ? or control characters and are limited to
1 KiB; quotes make OData filters fragile. Used by every table module of `shared.store`.
Everything outside a small safe set is percent-encoded (UTF-8), so encoding is reversible;
an over-long key is replaced by a digest (the original is kept in the entity's properties).
"""

from __future__ import annotations

import hashlib
import re

_SAFE = re.compile(r"[A-Za-z0-9\-_.~:@!$&()*+,;= ]")
MAX_KEY = 700  # characters; the service limit is 1 KiB (UTF-16), keep a margin


def encode_key(value: str) -> str:
    out: list[str] = []
    for ch in str(value):
        if _SAFE.fullmatch(ch):
            out.append(ch)
        else:
            out.extend(f"%{b:02X}" for b in ch.encode("utf-8", "surrogatepass"))
    key = "".join(out)
    if not key:
        return "%00empty"  # an empty key is legal but ambiguous in URLs; make it visible
    if len(key) > MAX_KEY:
        return "~sha256~" + hashlib.sha256(str(value).encode("utf-8", "surrogatepass")).hexdigest()
    return key


def decode_key(key: str) -> str:
    """The inverse of encode_key (not for digests: read the original from the entity)."""
    if key == "%00empty":
        return ""
    raw = bytearray()
    i = 0
    while i < len(key):
        if key[i] == "%" and i + 2 < len(key) + 1 and re.fullmatch(r"[0-9A-F]{2}", key[i + 1 : i + 3]):
            raw.append(int(key[i + 1 : i + 3], 16))
            i += 3
        else:
            raw.extend(key[i].encode("utf-8"))
            i += 1
    return raw.decode("utf-8", "surrogatepass")
