"""Text checks shared by every layer (issue 15, F9 and F15).

`str.isdigit` accepts superscripts and other Unicode digits that `int()` refuses, so a
forged `Last-Event-ID: :²` was a 500; `ascii_digits` is the check to use before `int()`.
"""

from __future__ import annotations

import unicodedata

# Bidirectional overrides/isolates and zero-width characters: invisible, and able to make a
# name or address read differently from what it is.
_INVISIBLE = frozenset(
    "\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
    "\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069\ufeff"
)


def ascii_digits(text: str) -> bool:
    """True for a non-empty run of 0-9 only (what `int()` will accept without surprises)."""
    return text.isascii() and text.isdigit()


def unsafe_characters(text: str) -> list[str]:
    """The control, format (bidi, zero-width) and unassigned characters in `text`, as U+XXXX."""
    bad = []
    for ch in text:
        category = unicodedata.category(ch)
        if ch in _INVISIBLE or category in ("Cc", "Cf", "Cs", "Co", "Cn"):
            bad.append(f"U+{ord(ch):04X}")
    return bad


def clean_name(text: str) -> str:
    """`text` in NFKC with outer whitespace removed; raises ValueError naming any character
    that is a control, bidi override or zero-width character."""
    normal = unicodedata.normalize("NFKC", text).strip()
    bad = unsafe_characters(normal)
    if bad:
        raise ValueError("contains invisible or control characters: " + ", ".join(bad[:5]))
    return normal


def checked_email(address: str) -> str:
    """`address` normalised (NFKC, lower case) and validated by `email-validator` (issue 15,
    F15): ASCII only, so a Cyrillic look-alike, an RTL override or a `,` list is refused.
    Raises ValueError with a reason a client can show."""
    from email_validator import EmailNotValidError, validate_email

    normal = unicodedata.normalize("NFKC", address).strip().lower()
    bad = unsafe_characters(normal)
    if bad:
        raise ValueError("contains invisible or control characters: " + ", ".join(bad[:5]))
    if not normal.isascii():
        raise ValueError("only ASCII addresses are accepted")
    try:
        checked = validate_email(normal, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from None
    return checked.normalized.lower()
