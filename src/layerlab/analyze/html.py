"""Building blocks of a self-contained HTML page: no external assets, images inlined as base64.

Every function returns a fragment of HTML with its text escaped; ``page`` puts sections together with
an inline style sheet and a table of contents. The page has no scripts, so it renders the same with
or without JavaScript and loads nothing from anywhere.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #1d232a; background: #fafafa; }
header { background: #1d3557; color: white; padding: 1.2em 2em; }
header h1 { margin: 0 0 .2em 0; font-size: 1.6em; }
header p { margin: 0; opacity: .85; }
nav { padding: .6em 2em; background: #e9eef5; font-size: .92em; }
nav a { margin-right: 1.1em; color: #1d3557; text-decoration: none; }
main { padding: 0 2em 2em 2em; max-width: 1300px; }
section { background: white; margin: 1.2em 0; padding: .8em 1.4em 1.2em 1.4em; border-radius: 6px;
          box-shadow: 0 1px 3px rgba(0,0,0,.12); }
h2 { border-bottom: 1px solid #dde3ea; padding-bottom: .3em; }
table { border-collapse: collapse; margin: .6em 0; font-size: .9em; }
th, td { border: 1px solid #dde3ea; padding: .25em .6em; text-align: right; }
th { background: #f0f3f7; }
td.text, th.text { text-align: left; }
figure { display: inline-block; margin: .5em 1em .5em 0; vertical-align: top; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: .85em; color: #555; max-width: 640px; }
pre { background: #f5f7f9; padding: .8em; overflow-x: auto; font-size: .85em; }
.note { color: #666; font-size: .9em; }
.tokens span { padding: 1px 2px; border-radius: 3px; line-height: 1.9; }
"""


def escape(text: Any) -> str:
    return html.escape(str(text), quote=True)


def paragraph(text: str, *, note: bool = False) -> str:
    attributes = ' class="note"' if note else ""
    return f"<p{attributes}>{escape(text)}</p>"


def preformatted(text: str) -> str:
    return f"<pre>{escape(text)}</pre>"


def image(png: bytes | Path, *, caption: str = "", alt: str = "") -> str:
    """A PNG (bytes or a file) inlined as a base64 data URI, with an optional caption."""
    data = png.read_bytes() if isinstance(png, Path) else png
    encoded = base64.b64encode(data).decode("ascii")
    cap = f"<figcaption>{escape(caption)}</figcaption>" if caption else ""
    return f'<figure><img src="data:image/png;base64,{encoded}" alt="{escape(alt or caption)}">{cap}</figure>'


def audio(wav: bytes, *, caption: str = "") -> str:
    """A WAV file (bytes) inlined as a base64 data URI in a playable ``<audio controls>``, with a caption."""
    encoded = base64.b64encode(wav).decode("ascii")
    cap = f"<figcaption>{escape(caption)}</figcaption>" if caption else ""
    return f'<figure><audio controls preload="none" src="data:audio/wav;base64,{encoded}"></audio>{cap}</figure>'


def table(columns: Sequence[str], rows: Sequence[Sequence[Any]], *, digits: int = 4) -> str:
    """A table; numbers are shown with ``digits`` significant digits, text left-aligned."""
    head = "".join(f'<th class="text">{escape(c)}</th>' if i == 0 else f"<th>{escape(c)}</th>"
                   for i, c in enumerate(columns))
    body = []
    for row in rows:
        cells = []
        for value in row:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                cells.append(f'<td class="text">{escape("" if value is None else value)}</td>')
            else:
                cells.append(f"<td>{escape(number(value, digits))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def number(value: float, digits: int = 4) -> str:
    if isinstance(value, int):
        return f"{value:,}"
    if math.isnan(value):
        return "n/a"
    return f"{value:.{digits}g}"


def highlighted_tokens(tokens: Sequence[str], scores: Sequence[float]) -> str:
    """Tokens on coloured backgrounds: green for positive attribution, red for negative, by magnitude."""
    peak = max((abs(s) for s in scores), default=0.0) or 1.0
    spans = []
    for token, score in zip(tokens, scores):
        alpha = min(1.0, abs(score) / peak)
        colour = f"rgba(46,160,67,{alpha:.2f})" if score >= 0 else f"rgba(218,54,51,{alpha:.2f})"
        spans.append(f'<span style="background:{colour}" title="{score:+.4f}">{escape(token)}</span>')
    return '<div class="tokens">' + " ".join(spans) + "</div>"


def anchor(title: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in title.lower()).strip("-")


def page(title: str, subtitle: str, sections: Sequence[tuple[str, Sequence[str]]]) -> str:
    """A whole page: header, table of contents, and one ``<section>`` per ``(title, fragments)``."""
    nav = "".join(f'<a href="#{anchor(t)}">{escape(t)}</a>' for t, _ in sections)
    body = "".join(f'<section id="{anchor(t)}"><h2>{escape(t)}</h2>{"".join(parts)}</section>'
                   for t, parts in sections)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        # a data: favicon, so that a browser does not ask the file system for /favicon.ico
        "<link rel=\"icon\" href=\"data:,\">"
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>"
        f"<header><h1>{escape(title)}</h1><p>{escape(subtitle)}</p></header>"
        f"<nav>{nav}</nav><main>{body}</main></body></html>\n"
    )
