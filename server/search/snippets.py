"""Snippets: the part of a chunk around its first matched term, matches in <mark>."""

from __future__ import annotations

import html

from server.search.text import terms, word_spans


def snippet(text: str, query: str, width: int = 240) -> str:
    wanted = set(terms(query))
    spans = [(s, e) for s, e, t in word_spans(text) if t in wanted]
    first = spans[0][0] if spans else 0
    start = max(0, first - width // 3)
    while 0 < start < len(text) and not text[start - 1].isspace():
        start += 1
    end = min(len(text), start + width)
    out: list[str] = ["…" if start > 0 else ""]
    pos = start
    for s, e in spans:
        if s < start or e > end:
            continue
        out.append(html.escape(text[pos:s]))
        out.append(f"<mark>{html.escape(text[s:e])}</mark>")
        pos = e
    out.append(html.escape(text[pos:end]))
    if end < len(text):
        out.append("…")
    return "".join(out)
