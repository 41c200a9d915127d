"""User data shown as text: escaped for Markdown, made safe for a terminal, times in UTC.

Agent ids, swarm ids, metadata and alert texts are user data. Each output
treats them the one way this module gives:

* :func:`escape_markdown` escapes a character only where Markdown (CommonMark
  with GFM tables) or HTML would act on it in that position, so a plain id
  such as ``backend-1`` or ``under_score`` reads verbatim and a hostile one
  stays literal text;
* :func:`for_terminal` neutralises what a terminal would act on (ESC/CSI/OSC
  sequences, every other C0 and C1 control, DEL) and the bidirectional
  overrides that make text read differently from what it holds;
* :func:`format_utc` formats any stored time without raising, however far out
  of range it is.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Final

__all__ = ["BIDI_CONTROLS", "escape_markdown", "for_terminal", "format_utc"]

BIDI_CONTROLS: Final = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
"""The bidirectional marks, embeddings, overrides and isolates (Unicode Bidi_Control)."""

_SEPARATORS: Final = "\u2028\u2029"


def _controls() -> dict[int, str]:
    table = {code: f"\\u{code:04x}" for code in (*range(0x20), *range(0x7F, 0xA0))}
    for char in (*BIDI_CONTROLS, *_SEPARATORS):
        table[ord(char)] = f"\\u{ord(char):04x}"
    return table


_TERMINAL: Final = _controls()
_TERMINAL_LINES: Final = {code: text for code, text in _TERMINAL.items() if code != 0x0A}
# A Markdown report is one line per line: no user text may break one, or hide what it holds.
_FLATTEN: Final = {code: " " for code in _TERMINAL} | {
    ord(c): f"\\u{ord(c):04x}" for c in BIDI_CONTROLS
}

# Where a character acts in CommonMark (+ GFM tables and strikethrough) or HTML:
_ALWAYS: Final = frozenset("|`[")  # cell breaks, code spans, links and images
_FLANKING: Final = frozenset("*_~")  # emphasis and strikethrough, by their neighbours
_PUNCTUATION: Final = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
_ENTITY: Final = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{0,31});")
_CLOSING_HASHES: Final = re.compile(r"(?:^|(?<=[ \t]))#+[ \t]*$")
_ORDERED: Final = re.compile(r"\d{1,9}(?=[.)])")
_BLOCK_MARKERS: Final = frozenset("#>+=-*")


def _harmless_flanking(char: str, before: str, after: str) -> bool:
    """Whether an emphasis character can neither open nor close a span where it stands.

    A delimiter with whitespace on both sides is neither left- nor
    right-flanking; an underscore inside a word never opens or closes one.
    Beyond the text's ends lies whatever the document puts there: unknown.
    """
    if before.isspace() and after.isspace():  # "" (an end of the text) is not a space
        return True
    return char == "_" and before.isalnum() and after.isalnum()


def escape_markdown(text: str, *, line_start: bool = False) -> str:
    r"""Return ``text`` as inline Markdown that reads as exactly ``text``.

    Line breaks and control characters become spaces, bidi controls are shown
    as ``\u202e``-style escapes. Then a character is escaped only where it
    would act: ``|`` (a table cell's end), backticks, ``[`` (links and images;
    with it escaped, ``]``, ``!`` and ``(`` do nothing), ``<`` as ``&lt;``
    (HTML tags, comments, autolinks), ``&`` as ``&amp;`` where it starts an
    entity reference, ``*``, ``_`` and ``~`` unless their neighbours keep them
    from opening or closing emphasis, ``\`` before punctuation or at the end,
    and a ``#`` run that would close a heading. With ``line_start``, the text
    begins a line: a leading list, heading, quote or setext marker is escaped
    too.

    Args:
        text: user data.
        line_start: the text starts a line of the document.
    """
    flat = text.translate(_FLATTEN)
    out: list[str] = []
    entities = {match.start() for match in _ENTITY.finditer(flat)}
    closing = _CLOSING_HASHES.search(flat)
    closing_at = closing.start() if closing is not None else len(flat) + 1
    last = len(flat) - 1
    for i, char in enumerate(flat):
        if char in _ALWAYS:
            out.append("\\" + char)
        elif char == "<":  # HTML tags, comments, autolinks: a reference works in any renderer
            out.append("&lt;")
        elif char in _FLANKING:
            before = flat[i - 1] if i > 0 else ""
            after = flat[i + 1] if i < last else ""
            out.append(char if _harmless_flanking(char, before, after) else "\\" + char)
        elif char == "\\":
            # before punctuation it would escape it; at the end, whatever follows the text
            out.append("\\\\" if i == last or flat[i + 1] in _PUNCTUATION else char)
        elif char == "&":
            out.append("&amp;" if i in entities else char)
        elif char == "#" and i >= closing_at:
            out.append("\\#")
        else:
            out.append(char)
    escaped = "".join(out)
    return _escape_line_start(escaped) if line_start else escaped


def _escape_line_start(escaped: str) -> str:
    """Keep already escaped text that begins a line from opening a block.

    Leading blanks (four make a code block) become ``&#32;`` references; a
    list, heading, quote or setext marker gets its backslash.
    """
    body = escaped.lstrip(" \t")
    lead = "&#32;" * (len(escaped) - len(body))
    number = _ORDERED.match(body)
    if number is not None:
        return lead + body[: number.end()] + "\\" + body[number.end() :]
    if body[:1] in _BLOCK_MARKERS:
        return lead + "\\" + body
    return lead + body


def for_terminal(text: str, *, keep_newlines: bool = False) -> str:
    """Return ``text`` with nothing a terminal would act on.

    Every C0 and C1 control character (ESC, so CSI and OSC sequences too), DEL,
    the line and paragraph separators and the bidi controls are shown as
    ``\\u001b``-style escapes: visible, and still valid inside a JSON string.

    Args:
        text: anything to print.
        keep_newlines: keep ``\\n`` (multi-line output such as a report).
    """
    return text.translate(_TERMINAL_LINES if keep_newlines else _TERMINAL)


def format_utc(timestamp: float, *, millis: bool = False) -> str:
    """Epoch seconds as ``2024-05-01 12:00:00`` (with ``.123`` if ``millis``) UTC.

    Never raises: a time no calendar date can hold (a millisecond timestamp
    stored as seconds, say) is shown as its number, saying so.
    """
    try:
        moment = dt.datetime.fromtimestamp(timestamp, dt.UTC)
    except (OverflowError, OSError, ValueError, TypeError):
        shown = f"{timestamp:.3f}" if isinstance(timestamp, float) and math.isfinite(timestamp) \
            else repr(timestamp)
        return f"{shown} (epoch s, out of range)"
    if millis:
        return moment.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    return moment.strftime("%Y-%m-%d %H:%M:%S")
