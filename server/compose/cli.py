"""Command-line tools under `litestar --app server.app:create_app …`.

The plugin is handed `open_services` by the app (it never imports the app): each command
opens the services from the app's settings, does its work through the managers, closes them.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click
import msgspec
from litestar import Litestar
from litestar.plugins import CLIPluginProtocol

from server.compose.services import Services
from server.core.actor import Actor
from server.core.errors import DomainError
from server.search.cli import register_search_cli
from server.settings import Settings
from server.shop.cli import register_shop_cli
from server.wallet.cli import register_wallet_cli
from server.wallet.schemas import MintRequest, Party

T = TypeVar("T")
OpenServices = Callable[[Settings], Awaitable[Services]]


class ServerCLIPlugin(CLIPluginProtocol):
    def __init__(self, open_services: OpenServices) -> None:
        self._open_services = open_services

    def run_with_services(self, app: Litestar, work: Callable[[Services], Awaitable[T]]) -> T:
        """Open the services from the app's settings, run `work`, close them."""

        async def _main() -> T:
            services = await self._open_services(app.state["settings"])
            try:
                return await work(services)
            finally:
                await services.close()

        return asyncio.run(_main())

    def run_opened(self, app: Litestar, work: Callable[[], Awaitable[T]]) -> T:
        """Run `work` with the database open (for commands that need no manager)."""

        async def _work(services: Services) -> T:
            return await work()

        return self.run_with_services(app, _work)

    def on_cli_init(self, cli: click.Group) -> None:
        run_with_services = self.run_with_services
        wallet = register_wallet_cli(cli, self.run_opened)
        register_shop_cli(cli, self.run_opened)
        register_search_cli(cli, self.run_opened)

        @cli.group(name="users", help="Manage user accounts.")
        def users() -> None:
            pass

        @users.command(name="create-admin", help="Create an administrator account.")
        @click.option("--username", required=True)
        @click.option("--email", required=True)
        @click.option("--password", required=True, help="At least 12 characters.")
        def create_admin(app: Litestar, username: str, email: str, password: str) -> None:
            async def _work(services: Services) -> Any:
                return await services.auth.create_admin(username, email, password)

            try:
                user = run_with_services(app, _work)
            except DomainError as exc:
                click.echo(f"error: {exc.code}: {exc.message} {exc.details or ''}", err=True)
                sys.exit(1)
            click.echo(f"created admin {user.username} ({user.id})")

        @cli.group(name="spaces", help="Spaces of the second brain.")
        def spaces() -> None:
            pass

        @spaces.command(name="backfill", help="Create missing spaces of users and groups.")
        def spaces_backfill(app: Litestar) -> None:
            async def _work(services: Services) -> Any:
                return await services.spaces.backfill()

            created = run_with_services(app, _work)
            click.echo("created spaces: " + ", ".join(f"{k}={v}" for k, v in created.items()))

        @cli.group(name="audit", help="The security audit log.")
        def audit() -> None:
            pass

        @audit.command(name="verify", help="Verify the audit log's hash chain (exit 1 if broken).")
        def audit_verify(app: Litestar) -> None:
            async def _work(services: Services) -> Any:
                return await services.auth.audit.verify()

            report = run_with_services(app, _work)
            if report.ok:
                click.echo(f"ok: {report.records} records, chain intact")
                return
            click.echo(
                f"BROKEN: chain broken at record {report.broken_at} ({report.reason}); "
                f"{report.records} records read",
                err=False,
            )
            sys.exit(1)

        @audit.command(name="rotate-totp-keys", help="Re-encrypt TOTP secrets with the first key.")
        def rotate_totp_keys(app: Litestar) -> None:
            async def _work(services: Services) -> Any:
                return await services.totp.rotate_keys()

            click.echo(f"re-encrypted {run_with_services(app, _work)} TOTP secrets")

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
            async def _work(services: Services) -> Any:
                # The same manager method as `POST /api/v1/admin/wallet/mint`, as the server.
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
