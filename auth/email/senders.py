"""Where outgoing mail goes: SMTP (aiosmtplib) in production, `.eml` files in development."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Protocol

import aiosmtplib


class EmailSender(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


def build_message(sender: str, to: str, subject: str, text: str, html: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2].strip(">") or None)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


@dataclass(frozen=True, slots=True)
class SmtpSender:
    host: str
    port: int
    username: str = ""
    password: str = ""
    starttls: bool = False
    use_tls: bool = False
    timeout: float = 10.0

    async def send(self, message: EmailMessage) -> None:
        await aiosmtplib.send(
            message,
            hostname=self.host,
            port=self.port,
            username=self.username or None,
            password=self.password or None,
            start_tls=self.starttls,
            use_tls=self.use_tls,
            timeout=self.timeout,
        )


@dataclass(frozen=True, slots=True)
class FileSender:
    """Writes each message as `<dir>/<time>-<id>.eml` (read them with any mail client)."""

    directory: str

    async def send(self, message: EmailMessage) -> None:
        path = Path(self.directory)

        def _write() -> None:
            path.mkdir(parents=True, exist_ok=True)
            name = f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{uuid.uuid4().hex[:12]}.eml"
            (path / name).write_bytes(message.as_bytes())

        await asyncio.to_thread(_write)
