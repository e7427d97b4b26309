"""HTML for the e-mail link pages: one escaped template, one stylesheet, one CSP.

No script at all; the only inline code is the stylesheet, allowed by its hash, so the page's
CSP can stay `default-src 'none'`. Forms post back to the same path (`form-action 'self'`).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from html import escape

from litestar import Response
from litestar.enums import MediaType

STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;"
    "line-height:1.5;color:#1a1a1a}"
    "label{display:block;margin-top:1rem;font-weight:600}"
    "input{display:block;width:100%;box-sizing:border-box;padding:.5rem;font-size:1rem}"
    "button{margin-top:1.5rem;padding:.6rem 1.2rem;font-size:1rem}"
    ".ok{color:#0a5c2b}.error{color:#a10000}.hint{color:#555;font-size:.9rem}"
)
_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
PAGE_CSP = (
    f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


@dataclass(frozen=True, slots=True)
class Field:
    """A visible input of a form."""

    name: str
    label: str
    type: str = "text"
    autocomplete: str = "off"
    required: bool = True
    hint: str = ""
    inputmode: str = ""


def page(title: str, body: str, status_code: int = 200) -> Response[str]:
    """A whole page around `body` (already HTML), with its own CSP."""
    document = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><main><h1>{escape(title)}</h1>{body}</main></body></html>"
    )
    return Response(
        document,
        status_code=status_code,
        media_type=MediaType.HTML,
        headers={"Content-Security-Policy": PAGE_CSP},
    )


def paragraph(text: str, kind: str = "") -> str:
    """A paragraph; `ok` is announced as a status, `error` as an alert."""
    if kind == "ok":
        return f'<p class="ok" role="status">{escape(text)}</p>'
    if kind == "error":
        return f'<p class="error" role="alert">{escape(text)}</p>'
    return f"<p>{escape(text)}</p>"


def form(token: str, button: str, fields: tuple[Field, ...] = ()) -> str:
    """A POST form back to this path carrying the link's one-time token (which is what makes
    it CSRF-safe: a forged post cannot know it)."""
    inputs = []
    for f in fields:
        hint_id = f"{f.name}-hint"
        attributes = [
            f'id="{f.name}"',
            f'name="{f.name}"',
            f'type="{f.type}"',
            f'autocomplete="{f.autocomplete}"',
        ]
        if f.required:
            attributes.append("required")
        if f.inputmode:
            attributes.append(f'inputmode="{f.inputmode}"')
        hint = ""
        if f.hint:
            attributes.append(f'aria-describedby="{hint_id}"')
            hint = f'<span class="hint" id="{hint_id}">{escape(f.hint)}</span>'
        inputs.append(
            f'<label for="{f.name}">{escape(f.label)}</label>{hint}<input {" ".join(attributes)}>'
        )
    return (
        '<form method="post">'
        f'<input type="hidden" name="token" value="{escape(token, quote=True)}">'
        f'{"".join(inputs)}<button type="submit">{escape(button)}</button></form>'
    )
