"""Terminal-safe text: sanitising, cutting and aligning strings that customers control.

Used by the other report modules (`coverage`, `findings`, `page`). Tenant names, display
names and resource group names come from customer directories and events; a name can carry
ANSI escape sequences, newlines, bidi overrides or be 10,000 characters long. Everything
shown goes through `clean` (escapes and control characters removed, whitespace collapsed)
and `fit` (cut with an ellipsis by display width, so wide East-Asian characters still align).
Pure: no I/O, no clock.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from shared.notify import notices as notices_

ELLIPSIS = "…"
# ANSI/VT sequences first (so `ESC[31m` disappears whole instead of leaving `[31m`): CSI,
# OSC (terminated by BEL or ST; a hyperlink or title-setting sequence), then other ESC pairs.
_ANSI = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[P^_X][^\x1b]*(?:\x1b\\)?"
    r"|\x1b[ -/]*[0-~]?"
    r"|\x9b[0-?]*[ -/]*[@-~]"
)
# C0/C1 controls, DEL, line/paragraph separators and bidi embedding/override/isolate marks
# (these reorder what a terminal shows: "Trojan Source" style spoofing of names).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]+")


def clean(value: object) -> str:
    """One printable line: escape sequences and control characters gone, whitespace collapsed."""
    text = "" if value is None else str(value)
    text = _CONTROL.sub(" ", _ANSI.sub("", text))
    return " ".join(text.split())


def char_width(char: str) -> int:
    if unicodedata.combining(char) or unicodedata.category(char) in {"Mn", "Me", "Cf"}:
        return 0
    return 2 if unicodedata.east_asian_width(char) in {"W", "F"} else 1


def display_width(text: str) -> int:
    return sum(char_width(c) for c in text)


def fit(text: str, width: int) -> str:
    """`text` cut to `width` terminal columns, ending with an ellipsis when cut."""
    if width <= 0:
        return ""
    if display_width(text) <= width:
        return text
    out: list[str] = []
    used = 0
    for char in text:
        w = char_width(char)
        if used + w > width - 1:
            break
        out.append(char)
        used += w
    return "".join(out) + ELLIPSIS


def pad(text: str, width: int) -> str:
    return text + " " * max(0, width - display_width(text))


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def short_id(value: str, keep: int = 8) -> str:
    """First characters of a GUID, enough to tell tenants apart in a table."""
    value = clean(value)
    return value if len(value) <= keep + 1 else value[:keep] + ELLIPSIS


def iso_z(moment: datetime | None) -> str | None:
    """ISO 8601 UTC with `Z` (naive instants are taken as UTC, as the store writes them)."""
    if moment is None:
        return None
    return notices_.utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def minute(moment: datetime | None) -> str:
    return notices_.utc(moment).strftime("%Y-%m-%d %H:%M") if moment else ""


@dataclass(frozen=True)
class Cell:
    """A table cell; `tail` (e.g. ` +2 more`) survives when the text is cut to the column."""

    text: str
    tail: str = ""

    def natural(self) -> int:
        return display_width(self.text + self.tail)

    def render(self, width: int) -> str:
        if display_width(self.text + self.tail) <= width:
            return self.text + self.tail
        if not self.tail or display_width(self.tail) >= width:
            return fit(self.text + self.tail, width)
        return fit(self.text, width - display_width(self.tail)) + self.tail


@dataclass(frozen=True)
class Column:
    header: str
    cap: int  # widest this column gets, whatever its content
    minimum: int = 0  # narrowest it shrinks to when the table must fit `width`; 0: never shrinks
    floor: int = 0  # if all columns are at `minimum` and it still does not fit: narrowest after all


GAP = "  "


def layout(columns: Sequence[Column], rows: Sequence[Sequence[Cell]], width: int | None = None) -> list[str]:
    """Aligned lines: a header, then one line per row; columns shrink (widest first) to fit `width`."""
    widths = [
        min(col.cap, max([display_width(col.header)] + [row[i].natural() for row in rows]))
        for i, col in enumerate(columns)
    ]
    if width is not None:
        excess = sum(widths) + len(GAP) * (len(widths) - 1) - width
        for limits in ([c.minimum for c in columns], [c.floor or c.minimum for c in columns]):
            while excess > 0:
                shrinkable = [i for i, low in enumerate(limits) if low and widths[i] > low]
                if not shrinkable:
                    break
                widest = max(shrinkable, key=lambda i: widths[i] - limits[i])
                widths[widest] -= 1
                excess -= 1
    lines = [GAP.join(pad(fit(col.header, widths[i]), widths[i]) for i, col in enumerate(columns)).rstrip()]
    for row in rows:
        lines.append(GAP.join(pad(cell.render(widths[i]), widths[i]) for i, cell in enumerate(row)).rstrip())
    return lines
