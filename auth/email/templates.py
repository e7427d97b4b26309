"""E-mail templates, each in plain text and HTML. Values are escaped for the HTML part."""

from __future__ import annotations

import html
from dataclasses import dataclass
from string import Template
from typing import Any


@dataclass(frozen=True, slots=True)
class EmailTemplate:
    subject: str
    text: str
    html: str


_FOOTER_TEXT = "\n\nIf you did not expect this message, you can ignore it.\n-- $app\n"
_FOOTER_HTML = (
    '<p style="color:#666">If you did not expect this message, you can ignore it.</p>'
    "<p>&mdash; $app</p>"
)


def _page(body: str) -> str:
    return (
        '<!doctype html><html><body style="font-family:sans-serif">'
        f"{body}{_FOOTER_HTML}</body></html>"
    )


TEMPLATES: dict[str, EmailTemplate] = {
    "verify_email": EmailTemplate(
        subject="Confirm your e-mail address",
        text="Hello $username,\n\nconfirm your e-mail address by opening this link "
        "(valid for $hours hours):\n\n$link" + _FOOTER_TEXT,
        html=_page(
            "<p>Hello $username,</p><p>confirm your e-mail address "
            '(the link is valid for $hours hours):</p><p><a href="$link">Confirm my address</a>'
            "</p>"
        ),
    ),
    "password_reset": EmailTemplate(
        subject="Reset your password",
        text="Hello $username,\n\nsomeone asked to reset the password of your account. "
        "Open this link within 30 minutes to choose a new one:\n\n$link\n\n"
        "All your sessions will be signed out." + _FOOTER_TEXT,
        html=_page(
            "<p>Hello $username,</p><p>someone asked to reset the password of your account. "
            'Open this link within 30 minutes to choose a new one:</p><p><a href="$link">'
            "Reset my password</a></p><p>All your sessions will be signed out.</p>"
        ),
    ),
    "password_changed": EmailTemplate(
        subject="Your password was changed",
        text="Hello $username,\n\nthe password of your account was changed ($how) at $when "
        "from $ip.\nIf this was not you, reset your password now." + _FOOTER_TEXT,
        html=_page(
            "<p>Hello $username,</p><p>the password of your account was changed ($how) at "
            "$when from $ip.</p><p>If this was not you, reset your password now.</p>"
        ),
    ),
    "email_changed": EmailTemplate(
        subject="Your e-mail address was changed",
        text="Hello $username,\n\nthe e-mail address of your account was changed to "
        "$new_email at $when.\nIf this was not you, contact support." + _FOOTER_TEXT,
        html=_page(
            "<p>Hello $username,</p><p>the e-mail address of your account was changed to "
            "$new_email at $when.</p><p>If this was not you, contact support.</p>"
        ),
    ),
    "new_login": EmailTemplate(
        subject="New sign-in to your account",
        text="Hello $username,\n\nyour account was signed in to from a new device or "
        "place:\n\n  when: $when\n  IP: $ip\n  device: $device\n  method: $method\n\n"
        "If this was not you, reset your password and end your other sessions." + _FOOTER_TEXT,
        html=_page(
            "<p>Hello $username,</p><p>your account was signed in to from a new device or "
            "place:</p><ul><li>when: $when</li><li>IP: $ip</li><li>device: $device</li>"
            "<li>method: $method</li></ul><p>If this was not you, reset your password and end "
            "your other sessions.</p>"
        ),
    ),
    "lockdown_confirm": EmailTemplate(
        subject="Confirm the change to your sign-in lockdown",
        text="Hello $username,\n\nconfirm that lockdown should be turned $state "
        "(valid for 60 minutes):\n\n$link" + _FOOTER_TEXT,
        html=_page(
            "<p>Hello $username,</p><p>confirm that lockdown should be turned $state "
            '(valid for 60 minutes):</p><p><a href="$link">Confirm</a></p>'
        ),
    ),
    "lockdown_blocked": EmailTemplate(
        subject="A sign-in to your account was blocked",
        text="Hello $username,\n\nlockdown blocked a sign-in from IP $ip, device $device at "
        "$when.\n\nIf it was you:\n  allow this one sign-in (15 minutes): $allow_link\n"
        "  trust this IP and device (link valid 60 minutes): $trust_link\n\n"
        "If it was not you, change your password." + _FOOTER_TEXT,
        html=_page(
            "<p>Hello $username,</p><p>lockdown blocked a sign-in from IP $ip, device $device "
            'at $when.</p><p>If it was you: <a href="$allow_link">allow this one sign-in</a> '
            '(15 minutes) or <a href="$trust_link">trust this IP and device</a> (link valid 60 '
            "minutes).</p><p>If it was not you, change your password.</p>"
        ),
    ),
}


def render(kind: str, context: dict[str, Any]) -> tuple[str, str, str]:
    """(subject, text, html) for a template and its values."""
    template = TEMPLATES[kind]
    values = {k: str(v) for k, v in context.items()}
    escaped = {k: html.escape(v, quote=True) for k, v in values.items()}
    return (
        Template(template.subject).safe_substitute(values),
        Template(template.text).safe_substitute(values),
        Template(template.html).safe_substitute(escaped),
    )
