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

from shared import words

MAX_CELL_LINES = 4  # a wrapped table cell takes at most this many lines
MAX_PROSE_LINES = 8  # a wrapped sentence (a title, a reason) this many
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
    return "".join(out) + words.ELLIPSIS


def pad(text: str, width: int) -> str:
    return text + " " * max(0, width - display_width(text))


def short_id(value: str, keep: int = 8) -> str:
    """First characters of a GUID, enough to tell tenants apart in a table."""
    value = clean(value)
    return value if len(value) <= keep + 1 else value[:keep] + words.ELLIPSIS


def wrap(text: str, width: int) -> list[str]:
    """`text` in lines of at most `width` columns, broken at spaces; a longer word is split."""
    if width <= 0:
        return [text] if text else []
    lines: list[str] = []
    line = ""
    for whole in text.split(" "):
        word = whole
        candidate = f"{line} {word}" if line else word
        if display_width(candidate) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        line = ""
        while display_width(word) > width:
            head, used = "", 0
            for char in word:
                if used + char_width(char) > width:
                    break
                head += char
                used += char_width(char)
            if not head:  # a character wider than the column: give it a line of its own
                head = word[0]
            hyphen = head.rfind("-")
            if hyphen >= width // 2:  # rg-production-westeurope breaks after a hyphen, not mid-word
                head = head[: hyphen + 1]
            lines.append(head)
            word = word[len(head) :]
        line = word
    if line or not lines:
        lines.append(line)
    return lines


@dataclass(frozen=True)
class Cell:
    """A table cell.

    `compact` is a shorter form shown when the full text does not fit (a name without its
    tenant id): identifiers go before names do. `tail` (e.g. ` +2 more`) survives when the
    text is cut to the column.
    """

    text: str
    tail: str = ""
    compact: str | None = None

    def natural(self) -> int:
        return display_width(self.text + self.tail)

    def essential(self) -> int:
        """Its width once the parts that may go (identifiers) are gone."""
        return display_width((self.text if self.compact is None else self.compact) + self.tail)

    def render(self, width: int) -> str:
        if display_width(self.text + self.tail) <= width:
            return self.text + self.tail
        text = self.text if self.compact is None else self.compact
        if display_width(text + self.tail) <= width:
            return text + self.tail
        if not self.tail or display_width(self.tail) >= width:
            return fit(text + self.tail, width)
        return fit(text, width - display_width(self.tail)) + self.tail

    def lines(self, width: int, most: int = MAX_CELL_LINES) -> list[str]:
        """Wrapped instead of cut: the full text when it fits one line, else the compact one wrapped
        (at most `most` lines, the last one cut: a 10,000-character name stays a few lines)."""
        if self.natural() <= width:
            return [self.text + self.tail]
        text = self.text if self.compact is None else self.compact
        out = wrap(text + self.tail, width)
        if len(out) > most:
            out = [*out[: most - 1], fit(" ".join(out[most - 1 :]), width)]
        return out


@dataclass(frozen=True)
class Column:
    header: str
    cap: int  # widest this column gets, whatever its content
    minimum: int = 0  # narrowest it shrinks to when the table must fit `width`; 0: never shrinks
    floor: int = 0  # if all columns are at `minimum` and it still does not fit: narrowest after all
    wrap: bool = False  # cells continue on the next lines instead of being cut
    prose: bool = False  # wrapped words (a title, a reason): the first to narrow, before any name
    optional: int = 0  # >0: left out when the table does not fit otherwise, highest first


GAP = "  "


def _shrink(widths: list[int], limits: Sequence[int], excess: int) -> int:
    """Narrow the columns above their limit, the one furthest above first; the excess left."""
    while excess > 0:
        shrinkable = [i for i, low in enumerate(limits) if widths[i] > low]
        if not shrinkable:
            break
        widest = max(shrinkable, key=lambda i: widths[i] - limits[i])
        widths[widest] -= 1
        excess -= 1
    return excess


def layout_rows(
    columns: Sequence[Column], rows: Sequence[Sequence[Cell]], width: int | None = None
) -> tuple[list[str], list[list[str]]]:
    """(header lines, lines of each row) fitting `width`.

    When the table is too wide, in this order: identifiers leave cells that have a compact
    form, prose columns wrap down to their `minimum`, optional columns are left out, then the
    other columns shrink to their `minimum` and `floor` (wrapped columns wrap, others are cut
    with an ellipsis).
    """
    keep = list(range(len(columns)))
    widths = [
        min(col.cap, max([display_width(col.header)] + [row[i].natural() for row in rows]))
        for i, col in enumerate(columns)
    ]
    if width is not None:

        def excess() -> int:
            return sum(widths[i] for i in keep) + len(GAP) * (len(keep) - 1) - width

        essential = [
            min(widths[i], max([display_width(col.header)] + [row[i].essential() for row in rows]))
            for i, col in enumerate(columns)
        ]
        left = _shrink(widths, essential, excess())
        prose = [c.minimum if (c.prose and c.minimum) else widths[i] for i, c in enumerate(columns)]
        left = _shrink(widths, prose, left)
        for i in sorted((i for i, c in enumerate(columns) if c.optional), key=lambda i: -columns[i].optional):
            if left <= 0:
                break
            keep.remove(i)
            left = excess()
        for limits in ([c.minimum for c in columns], [c.floor or c.minimum for c in columns]):
            bounded = [low if (low and i in keep) else widths[i] for i, low in enumerate(limits)]
            left = _shrink(widths, bounded, left)

    def lines_of(cells: Sequence[Cell]) -> list[str]:
        parts = [
            cells[i].lines(widths[i], MAX_PROSE_LINES if columns[i].prose else MAX_CELL_LINES)
            if columns[i].wrap
            else [cells[i].render(widths[i])]
            for i in keep
        ]
        height = max(len(p) for p in parts)
        return [
            GAP.join(pad(parts[j][n] if n < len(parts[j]) else "", widths[i]) for j, i in enumerate(keep)).rstrip()
            for n in range(height)
        ]

    return lines_of([Cell(c.header) for c in columns]), [lines_of(row) for row in rows]


def layout(columns: Sequence[Column], rows: Sequence[Sequence[Cell]], width: int | None = None) -> list[str]:
    """Aligned lines: the header, then each row's lines (see `layout_rows`)."""
    header, row_lines = layout_rows(columns, rows, width)
    return [*header, *(line for lines in row_lines for line in lines)]
