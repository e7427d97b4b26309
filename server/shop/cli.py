"""`shop` CLI commands: seed the starter catalogue, grant the shop-admin role."""

from __future__ import annotations

import sys
from typing import Any

import click
from litestar import Litestar

from server.core.actor import ROLE_SHOP_ADMIN
from server.wallet.cli import RunOpened


def register_shop_cli(cli: click.Group, run_opened: RunOpened) -> None:
    @cli.group(name="shop", help="The shop catalogue.")
    def shop() -> None:
        pass

    @shop.command(name="seed", help="Load the starter catalogue (items already there are kept).")
    def seed(app: Litestar) -> None:
        from server.shop.seed import seed_catalogue

        async def _work() -> Any:
            return await seed_catalogue()

        added = run_opened(app, _work)
        click.echo(f"added {added} items")

    @shop.command(name="grant-admin", help="Give a user the shop-admin role (edits the catalogue).")
    @click.option("--username", required=True)
    @click.option("--revoke", is_flag=True, help="Take the role away instead.")
    def grant_admin(app: Litestar, username: str, revoke: bool) -> None:
        from auth.documents import User

        async def _work() -> Any:
            update = {"$pull" if revoke else "$addToSet": {"roles": ROLE_SHOP_ADMIN}}
            return await User.get_pymongo_collection().update_one(
                {"username": username.strip().lower()}, update
            )

        result = run_opened(app, _work)
        if result.matched_count == 0:
            click.echo(f"error: no user {username}", err=True)
            sys.exit(1)
        verb = "revoked from" if revoke else "granted to"
        click.echo(f"shop admin role {verb} {username} (takes effect at their next login)")
