"""Hiding secrets that travel inside values: URLs that carry a key, control characters in outside text.

Used by `shared.settings` (the doctor's settings list, validation messages), the alert channels
(a webhook registers its URL) and the HTTP adapters. Imports nothing from the rest of `shared`,
so every layer may use it.

Teams, Slack and Logic Apps incoming-webhook URLs carry their key in the path (and a signature
in the query), so such a URL is shown as scheme and host only. urllib3 logs every request line at
DEBUG (`"POST /workflows/<key>/triggers/... HTTP/1.1" 200`): a filter on its logger replaces the
path of every registered secret URL. Values from outside (event ids, subjects, display names) may
hold CR/LF or other control characters that would forge log lines: `printable` neutralises them.
"""

from __future__ import annotations

import logging
import threading
import urllib.parse
from typing import Any

REDACTED = "(redacted)"
_MAX_LOGGED = 500
_SECRETS: set[str] = set()  # paths and queries of secret-bearing URLs this process uses
_LOCK = threading.Lock()


def url(value: str) -> str:
    """A URL with everything but its scheme and host hidden: `https://host/(redacted)`."""
    if not value:
        return ""
    parts = urllib.parse.urlsplit(value)
    if not parts.scheme or not parts.hostname:
        return REDACTED
    host = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
    hidden = parts.path not in ("", "/") or parts.query or parts.fragment
    return f"{parts.scheme}://{host}" + (f"/{REDACTED}" if hidden else "")


def register_secret_url(value: str) -> None:
    """Remember a URL whose path and query are secret, so that no log line shows them."""
    parts = urllib.parse.urlsplit(value)
    pieces = {parts.path, parts.query, urllib.parse.unquote(parts.path)}
    with _LOCK:
        _SECRETS.update(p for p in pieces if len(p) > 1)


def scrub(text: str) -> str:
    """`text` with every registered secret path or query replaced."""
    for secret in sorted(_SECRETS, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def printable(value: Any, limit: int = _MAX_LOGGED) -> str:
    """An outside value safe for one log line: control and bidi characters escaped, length cut."""
    text = value if isinstance(value, str) else str(value)
    out = []
    for ch in text[:limit]:
        if ch.isprintable() and not _bidi(ch):
            out.append(ch)
        else:
            out.append(ascii(ch)[1:-1] if ord(ch) < 0x10000 else "?")
    return "".join(out) + ("…" if len(text) > limit else "")


def _bidi(ch: str) -> bool:
    return "\u202a" <= ch <= "\u202e" or "\u2066" <= ch <= "\u2069" or ch in "\u200e\u200f\u061c"


class SecretUrlFilter(logging.Filter):
    """Replaces registered secret paths and queries in a record's arguments and message."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not _SECRETS:
            return True
        if isinstance(record.args, tuple):
            record.args = tuple(scrub(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: scrub(v) if isinstance(v, str) else v for k, v in record.args.items()}
        if isinstance(record.msg, str):
            record.msg = scrub(record.msg)
        return True


_FILTER = SecretUrlFilter()
for _name in ("urllib3.connectionpool", "urllib3.util.retry", "requests"):
    logging.getLogger(_name).addFilter(_FILTER)


# -- every log line of ours: outside values cannot forge a line ------------------------------------

_OURS = ("palwatch", "shared", "function_app")
_MAX_ARG = 8000
_factory = logging.getLogRecordFactory()


def _neutral(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    return printable(value, _MAX_ARG)


def _record(*args: Any, **kwargs: Any) -> logging.LogRecord:
    """Records of PAL Watch's loggers get their arguments rendered with control characters escaped
    (ids, subjects and display names come from outside: a CR/LF in one must not start a new line)."""
    record = _factory(*args, **kwargs)
    if record.args and record.name.startswith(_OURS):
        if isinstance(record.args, tuple):
            record.args = tuple(_neutral(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _neutral(v) for k, v in record.args.items()}
    return record


if not getattr(_factory, "palwatch", False):
    _record.palwatch = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(_record)
