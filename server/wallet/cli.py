"""`wallet` CLI commands (under `litestar --app server.app:create_app …`)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click
import msgspec

if TYPE_CHECKING:
    from litestar import Litestar

    from server.services import Services


def register_wallet_cli(cli: click.Group) -> None:
    from server.cli import run_with_services

    @cli.group(name="wallet", help="The token ledger.")
    def wallet() -> None:
        pass

    @wallet.command(name="audit", help="Check every balance against its transfers (exit 1 if not).")
    def audit(app: Litestar) -> None:
        from server.wallet.audit import run_audit

        async def _work(services: Services) -> Any:
            return await run_audit()

        report = run_with_services(app, _work)
        click.echo(msgspec.json.format(msgspec.json.encode(report).decode(), indent=2))
        if not report.ok:
            sys.exit(1)
