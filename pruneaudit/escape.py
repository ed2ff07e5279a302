"""Names from results.json (models, classes, rules) made inert for each format the gate and the card write.

A results file, a data file's class names or a config's model names may come from someone else,
and they reach Markdown (card.md, the GitHub step summary), JUnit XML, the terminal and spreadsheets.
This module imports nothing, so that gate.py and report/ can share it within the layer rules.
"""

from __future__ import annotations

_SURROGATES = range(0xD800, 0xE000)  # lone halves (a JSON "\ud800" escape): not encodable as UTF-8

# Every control character (C0, DEL, C1) and the Unicode line and paragraph separators split lines or
# drive a terminal; in one-line contexts they become spaces.
_PLAIN = {c: " " for c in [*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029]} | dict.fromkeys(_SURROGATES, "\ufffd")

# GitHub-flavoured Markdown: a backslash makes any ASCII punctuation literal, so no raw HTML (an escaped
# "<" cannot open a tag, an escaped "&" no entity), no emphasis, code, link or image syntax, no table cell
# break, no heading, strikethrough or math. (Backslashes, not entities, keep the card's text readable.)
_MARKDOWN = str.maketrans(_PLAIN | {c: "\\" + c for c in "\\`*_[]<>&|#!~$"})

# XML 1.0 allows tab, LF, CR, U+0020–U+D7FF, U+E000–U+FFFD and above; ElementTree escapes the rest of the markup.
_XML = str.maketrans(
    {c: "\ufffd" for c in [*range(0x9), 0xB, 0xC, *range(0xE, 0x20), 0xFFFE, 0xFFFF]}
    | dict.fromkeys(_SURROGATES, "\ufffd")
)

FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\0")  # OWASP CSV injection: a spreadsheet evaluates these


def plain_text(value: object) -> str:
    """One printable line for the terminal: control characters become spaces (no escape sequences)."""
    return str(value).translate(_PLAIN)


def markdown_escape(value: object) -> str:
    """Escape text for GitHub-flavoured Markdown tables and prose: literal text, one line, one table cell."""
    return str(value).translate(_MARKDOWN)


def xml_text(value: object) -> str:
    """Text or an attribute value that XML 1.0 can hold: forbidden characters become U+FFFD."""
    return str(value).translate(_XML)


def spreadsheet_text(value: str) -> str:
    """A CSV text cell a spreadsheet shows as text: a leading ``'`` where it would start a formula."""
    return "'" + value if value.startswith(FORMULA_START) else value
