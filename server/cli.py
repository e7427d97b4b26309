"""Command-line tools under `litestar --app server.app:create_app …`."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click
from litestar.plugins import CLIPluginProtocol

from server.core.errors import DomainError

if TYPE_CHECKING:
    from litestar import Litestar

    from server.services import Services

T = TypeVar("T")


def run_with_services(app: Litestar, work: Callable[[Services], Awaitable[T]]) -> T:
    """Open the services from the app's settings, run `work`, close them."""
    from server.app import open_services

    async def _main() -> T:
        services = await open_services(app.state["settings"])
        try:
            return await work(services)
        finally:
            await services.close()

    return asyncio.run(_main())


class ServerCLIPlugin(CLIPluginProtocol):
    def on_cli_init(self, cli: click.Group) -> None:
        from server.shop.cli import register_shop_cli
        from server.wallet.cli import register_wallet_cli

        register_wallet_cli(cli)
        register_shop_cli(cli)

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
                totp = services.auth.totp
                if totp is None:
                    raise click.ClickException("TOTP is not configured in this process")
                return await totp.rotate_keys()

            click.echo(f"re-encrypted {run_with_services(app, _work)} TOTP secrets")
