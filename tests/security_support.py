"""Helpers for the security tests: an independent RFC 6238 TOTP, an in-process SMTP server,
and step-up/back-dated tokens. Nothing here imports pyotp or the product's TOTP code."""

from __future__ import annotations

import base64
import email
import hashlib
import hmac
import re
import socket
import struct
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller


def hotp(key: bytes, counter: int, digits: int = 6, digest: Any = hashlib.sha1) -> str:
    """RFC 4226 section 5.3, written from the RFC."""
    mac = hmac.new(key, counter.to_bytes(8, "big"), digest).digest()
    offset = mac[-1] & 0x0F
    binary = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(binary % (10**digits)).rjust(digits, "0")


def totp(
    key: bytes, unix_time: float, digits: int = 6, step: int = 30, digest: Any = hashlib.sha1
) -> str:
    """RFC 6238 section 4: T = floor((unix time - T0) / X), T0 = 0."""
    return hotp(key, int(unix_time // step), digits, digest)


def totp_from_b32(secret_b32: str, unix_time: float | None = None) -> str:
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8), casefold=True)
    return totp(key, time.time() if unix_time is None else unix_time)


def code_for_offset(secret_b32: str, steps: int) -> str:
    """The code `steps` time-steps from now (±1 is inside the server's tolerance)."""
    return totp_from_b32(secret_b32, time.time() + steps * 30)


@dataclass
class MailSink:
    """Messages received by the in-process SMTP server."""

    messages: list[Message] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content)
        message["X-Envelope-To"] = ",".join(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if address.lower() in m["X-Envelope-To"].lower()]

    def last_to(self, address: str, subject_contains: str = "") -> Message:
        found = [m for m in self.to(address) if subject_contains.lower() in m["Subject"].lower()]
        assert found, f"no mail to {address} about {subject_contains!r}: {self.subjects()}"
        return found[-1]

    def subjects(self) -> list[tuple[str, str]]:
        return [(m["X-Envelope-To"], m["Subject"]) for m in self.messages]


def parts(message: Message) -> tuple[str, str]:
    """(plain text, html) of a multipart/alternative message."""
    text = html = ""
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            text = part.get_payload(decode=True).decode()
        elif part.get_content_type() == "text/html":
            html = part.get_payload(decode=True).decode()
    return text, html


def link_token(message: Message, path: str) -> str:
    text, _ = parts(message)
    match = re.search(re.escape(path) + r"\?token=([A-Za-z0-9_\-]+)", text)
    assert match, text
    return match.group(1)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def smtp_server() -> Iterator[tuple[MailSink, int]]:
    sink = MailSink()
    port = _free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()


async def drain_mail(client: Any) -> dict[str, int]:
    """Run the SAQ job's function once, as the worker would."""
    from server import jobs

    return await jobs.drain_email_outbox({"services": client.app.state["services"]})
