"""Azure's wire timestamps (ARM, Graph, Event Grid, the activity log) as tz-aware datetimes.

Used by the adapters and the event parser. Azure writes up to 7 fractional digits and a `Z`;
Python 3.11's `fromisoformat` takes at most 6 and no `Z`. Bad input gives None, never an error.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

_EXTRA_DIGITS = re.compile(r"(\.\d{6})\d+")
_MAX_CHARS = 64


def parse(value: object) -> datetime | None:
    """A tz-aware datetime (UTC when the text has no offset), or None for anything unparseable."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str) or not value or len(value) > _MAX_CHARS:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(_EXTRA_DIGITS.sub(r"\1", text))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
