"""`wallet` CLI commands (under `litestar --app server.app:create_app …`)."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

import click
import msgspec
from litestar import Litestar

T = TypeVar("T")


class RunOpened(Protocol):
    """Runs `work` with the database open (handed over by the composition root's CLI)."""

    def __call__(self, app: Litestar, work: Callable[[], Awaitable[T]]) -> T: ...


def register_wallet_cli(cli: click.Group, run_opened: RunOpened) -> click.Group:
    """The `wallet` group (the composition root adds the commands that need managers)."""

    @cli.group(name="wallet", help="The token ledger.")
    def wallet() -> None:
        pass

    @wallet.command(name="audit", help="Check every balance against its transfers (exit 1 if not).")
    def audit(app: Litestar) -> None:
        from server.wallet.audit import run_audit

        report = run_opened(app, run_audit)
        click.echo(msgspec.json.format(msgspec.json.encode(report).decode(), indent=2))
        if not report.ok:
            sys.exit(1)

    return wallet
