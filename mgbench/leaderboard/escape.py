"""Escaping record text for each output: Markdown, CSV, matplotlib (the page uses ``html.escape``).

Names, settings and file names on the board come from result records, which
anyone can write. Each output has its own dangerous characters:

- Markdown (rendered by CommonMark/GFM renderers that pass raw HTML through):
  ``<``, ``>`` and ``&`` become HTML entities so no tag is ever formed, ``|``
  would end a table cell, brackets and backticks would make links and code,
  a backslash would escape what follows, and a line break would end the row.
- CSV opened in a spreadsheet: a cell starting with ``=``, ``+``, ``-``, ``@``,
  a tab or a carriage return is a formula; OWASP's advice is to prefix a
  single quote (the csv module already quotes separators and quotes); line
  breaks become spaces.
- matplotlib: an even number of ``$`` turns text into mathtext, which can fail
  to parse and abort a build; an escaped ``\\$`` is drawn as a plain dollar.
"""

from __future__ import annotations

import html
import re

_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029\x0b\x0c\x85]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_MARKDOWN_SPECIAL = re.compile(r"([\\`\[\]|])")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def one_line(text: str) -> str:
    """``text`` with line breaks and other control characters as spaces."""
    return _CONTROL.sub(" ", _LINE_BREAKS.sub(" ", text))


def markdown(text: str) -> str:
    """Literal text for a Markdown table cell, heading, list item or image alt text."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(one_line(text), quote=False))


def csv_cell(text: str) -> str:
    """A text cell a spreadsheet will not run as a formula, on one line.

    Line breaks become spaces: the csv module quotes ``\n`` but not a lone
    ``\r``, which readers take for the end of a row.
    """
    return _LINE_BREAKS.sub(" ", "'" + text if text.startswith(_FORMULA_START) else text)


def plain(text: str, limit: int | None = None) -> str:
    """Text matplotlib draws as it is (no mathtext), on one line, cut to ``limit`` characters."""
    text = one_line(text)
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.replace("$", r"\$")
