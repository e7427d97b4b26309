"""`wallet` CLI commands (under `litestar --app server.app:create_app …`)."""

from __future__ import annotations

import sys
import uuid
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

    @wallet.command(
        name="mint",
        help="Mint tokens to a user, as the server (an operator's grant; no HTTP needed).",
    )
    @click.option("--to", "username", required=True, help="The receiving user's username.")
    @click.option("--amount", required=True, type=int, help="A whole number of tokens.")
    @click.option("--reason", required=True, help="Recorded on the transfer.")
    @click.option(
        "--idempotency-key",
        default=None,
        help="Give the same key to make a retried command a no-op (default: a fresh one).",
    )
    def mint(
        app: Litestar, username: str, amount: int, reason: str, idempotency_key: str | None
    ) -> None:
        from server.core.actor import Actor
        from server.core.errors import DomainError
        from server.wallet.schemas import MintRequest, Party

        async def _work(services: Services) -> Any:
            # The same manager method as `POST /api/v1/admin/wallet/mint`, acting as the server.
            command = MintRequest(to=Party(username=username), amount=amount, reason=reason)
            outcome = await services.wallet.mint(
                Actor.system(),
                command,
                idempotency_key=idempotency_key or f"cli-mint-{uuid.uuid4().hex}",
            )
            return outcome.value

        try:
            result = run_with_services(app, _work)
        except DomainError as exc:
            click.echo(f"error: {exc.code}: {exc.message} {exc.details or ''}", err=True)
            sys.exit(1)
        click.echo(msgspec.json.encode(result).decode())
